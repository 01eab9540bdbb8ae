import ControlProtocol
import Foundation
import Testing

/// The JSON parser against Foundation's (the oracle for valid documents), and its limits.
@Suite struct JSONParserTests {
    static let documents = [
        #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n\u00e9\ud83d\ude00","d":-1.5e-3,"e":{}}"#,
        #"[0, -0, 1e300, 123456789012, 0.1, [], [[]], "", "\/"]"#,
        #"  {"jsonrpc": "2.0", "id": "abc", "method": "move", "params": {"q": [0, -1.2, 1, 0, 0, 0]}}  "#,
    ]

    @Test(arguments: documents)
    func agreesWithFoundation(_ text: String) throws {
        let ours = try JSONValue.parse(text)
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        #expect(Self.equal(ours, theirs), "\(ours) vs \(theirs)")
        // Printing and re-parsing is the identity.
        #expect(try JSONValue.parse(ours.serialized) == ours)
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("{", "expected a string key"), ("[1,]", "unexpected character"),
        ("{\"a\":1,\"a\":2}", "duplicate key"), ("01", "leading zero"), ("1e999", "out of range"),
        ("\"\\ud800\"", "unpaired surrogate"), ("\"a\u{01}\"", "control character"), ("[1] x", "unexpected data"),
        ("nul", "invalid literal"), ("\"\\q\"", "invalid escape"),
    ])
    func rejectsWithAReason(_ text: String, _ reason: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        do { _ = try JSONValue.parse(text) } catch { #expect(error.reason.contains(reason), "\(error)") }
    }

    @Test func deepNestingIsRejectedNotFollowed() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try JSONValue.parse(deep)
            Issue.record("must reject")
        } catch {
            #expect(error.reason.contains("nesting deeper than 32"))
        }
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect((try? JSONValue.parse(ok)) != nil)
    }

    /// Integer literals stay exact (request ids are echoed verbatim), others are doubles.
    @Test func integersAreKeptExact() throws {
        #expect(try JSONValue.parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(try JSONValue.parse("9007199254740993").serialized == "9007199254740993")
        #expect(try JSONValue.parse("-0") == .integer(0))
        #expect(try JSONValue.parse("1.0") == .number(1))
        #expect(try JSONValue.parse("1e2") == .number(100))
        #expect(try JSONValue.parse("99999999999999999999") == .number(1e20))
    }

    @Test func printsNumbersStringsAndSortedKeys() {
        let v: JSONValue = ["b": 1, "a": [1.5, .number(.nan), "q\"\n\u{01}"], "c": .null]
        #expect(v.serialized == #"{"a":[1.5,null,"q\"\n\u0001"],"b":1,"c":null}"#)
    }

    static func equal(_ a: JSONValue, _ b: Any) -> Bool {
        switch a {
        case .null: return b is NSNull
        case let .bool(x): return (b as? Bool) == x
        case let .number(x): return (b as? NSNumber).map { $0.doubleValue == x } ?? false
        case let .integer(i): return (b as? NSNumber).map { $0.int64Value == i && $0.doubleValue == Double(i) } ?? false
        case let .string(s): return (b as? String) == s
        case let .array(xs):
            guard let ys = b as? [Any], xs.count == ys.count else { return false }
            return zip(xs, ys).allSatisfy { equal($0, $1) }
        case let .object(o):
            guard let d = b as? [String: Any], d.count == o.count else { return false }
            return o.allSatisfy { k, v in d[k].map { equal(v, $0) } ?? false }
        }
    }
}

@Suite struct RPCRequestTests {
    func decode(_ s: String) -> Result<RPCRequest, RequestDecodeError> { RPCRequest.decode(Array(s.utf8), lineNumber: 7) }

    @Test func decodesRequestsAndNotifications() throws {
        let r = try decode(#"{"jsonrpc":"2.0","id":5,"method":"status"}"#).get()
        #expect(r.id == 5 && r.method == "status" && r.params == .object([:]))
        let n = try decode(#"{"jsonrpc":"2.0","method":"estop"}"#).get()
        #expect(n.id == nil)
    }

    @Test(arguments: [
        ("not json", -32700, nil as JSONValue?), ("[{}]", -32600, nil), ("3", -32600, nil),
        (#"{"id":1,"method":"x"}"#, -32600, 1), (#"{"jsonrpc":"2.0","id":"a","method":7}"#, -32600, "a"),
        (#"{"jsonrpc":"2.0","id":{},"method":"x"}"#, -32600, nil), (#"{"jsonrpc":"2.0","id":2,"method":"x","params":3}"#, -32600, 2),
        (#"{"jsonrpc":"2.0","id":3,"method":"x","extra":1}"#, -32600, 3),
    ])
    func rejectsInvalidRequestsKeepingTheID(_ line: String, _ code: Int, _ id: JSONValue?) {
        guard case let .failure(e) = decode(line) else { Issue.record("accepted \(line)"); return }
        #expect(e.error.code.rawValue == code)
        #expect(e.id == id || (id == nil && (e.id == nil || e.id == .null)))
    }

    @Test func parseErrorsNameTheLine() {
        guard case let .failure(e) = decode("{oops") else { Issue.record("accepted"); return }
        #expect(e.error.data?["line"] == 7)
    }

    @Test func paramsErrorsNameTheParameter() throws {
        let p = Params(["q": [1, "x"], "duration": "long"], method: "move")
        #expect(throws: RPCError.self) { try p.numbers("q") }
        do { _ = try p.numbers("q") } catch { #expect(error.message.contains("\"q\"[1] must be a number, got string")) }
        do { _ = try p.optionalNumber("duration") } catch { #expect(error.message.contains("\"duration\" must be a number")) }
        do { try p.allowOnly(["q"]) } catch { #expect(error.message.contains("unknown param \"duration\" for move")) }
    }
}

/// Issue 12: ids echoed as written, invalid UTF-8 refused.
@Suite struct RequestEchoAndUTF8Tests {
    @Test(arguments: ["123456789012345678901234567890", "-0", "1.50", "1E+300", "7"])
    func aNumericIDIsEchoedAsWritten(id: String) throws {
        let line = Array("{\"jsonrpc\":\"2.0\",\"id\": \(id) ,\"method\":\"hello\"}".utf8)
        guard case let .success(request) = RPCRequest.decode(line, lineNumber: 1) else { Issue.record("not decoded"); return }
        #expect(request.idLexeme == Array(id.utf8))
        let reply = String(decoding: RPCResponse.result(id: request.id ?? .null, idLexeme: request.idLexeme, ["x": 1]), as: UTF8.self)
        #expect(reply == "{\"id\":\(id),\"jsonrpc\":\"2.0\",\"result\":{\"x\":1}}")
        let error = String(decoding: RPCResponse.error(id: request.id, idLexeme: request.idLexeme, .invalidParams("p")), as: UTF8.self)
        // Foundation (the oracle) reads both as JSON objects with the same keys as before.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(error.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["error", "id", "jsonrpc"])
        #expect(error.hasPrefix("{\"error\":{") && error.contains(",\"id\":\(id),\"jsonrpc\":\"2.0\"}"))
    }

    @Test func nestedIDsAndStringsKeepNoLexeme() {
        guard case let .success(r) = RPCRequest.decode(Array(#"{"jsonrpc":"2.0","id":"5","method":"m","params":{"id":7}}"#.utf8), lineNumber: 1) else {
            Issue.record("not decoded")
            return
        }
        #expect(r.idLexeme == nil)
    }

    @Test(arguments: [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80]] as [[UInt8]])
    func invalidUTF8InAStringIsAParseError(bad: [UInt8]) {
        let line = Array(#"{"a":"x"#.utf8) + bad + Array(#"y"}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(line) }
        #expect((try? JSONValue.parse(Array(#"{"a":"été 😀"}"#.utf8))) == .object(["a": .string("été 😀")]))
    }
}

/// `robotctl --json` prints `pretty`: the layout Foundation's JSONSerialization printed before
/// (the oracle), so scripts that read it see the same bytes.
@Suite struct JSONPrettyTests {
    @Test func prettyMatchesFoundationsLayout() throws {
        let text = #"{"b":[1,2.5,[],{}],"a":{"x/y":null,"e":1e20,"s":"é\u0001\t/\"","small":1e-7,"f":0.1,"t":true},"c":[[1]],"d":{}}"#
        let ours = try JSONValue.parse(text).pretty
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let theirs = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        #expect(ours == String(decoding: theirs, as: UTF8.self))
        #expect(JSONValue.string("x").pretty == "\"x\"")
    }
}

/// Typed params decode what the protocol fixes and name the member they refuse; encoding and
/// decoding again is the identity.
@Suite struct TypedParamsTests {
    @Test func targetParamsRoundTripAndNameTheMember() throws {
        let targets: [TargetSetParams] = [
            .init(target: .pose(position: [0.3, 0, 0.4], orientation: [1, 0, 0, 0]), duration: 2),
            .init(target: .joints([0, 0.5, -0.5])),
            .init(target: .path(waypoints: [[0.3, 0, 0.4], [0.3, 0.1, 0.4], [0.3, 0.1, 0.5]], period: 4)),
        ]
        for t in targets {
            #expect(try TargetSetParams(Params(t.json, method: ControlMethod.targetSet)) == t)
        }
        func refusal(_ params: JSONValue) -> String {
            do {
                _ = try TargetSetParams(Params(params, method: ControlMethod.targetSet))
                return "accepted"
            } catch {
                #expect(error.code == .invalidParams)
                return error.message
            }
        }
        #expect(refusal(["position": [1, 2]]).contains("\"position\" must have 3 values"))
        #expect(refusal(["q": [0, "x"]]).contains("\"q\"[1] must be a number, got string"))
        #expect(refusal(["path": [[0, 0, 0]], "period": 1]).contains("needs 3 to 10000 waypoints"))
        #expect(refusal(["path": [[0, 0, 0], [1, 1, 1], [2, 2, 2]], "duration": 1]).contains("\"duration\" does not combine with \"path\""))
        #expect(refusal(["q": [0], "positon": [1, 2, 3]]).contains("unknown param \"positon\""))
    }

    @Test func fileParamsTellThePassedFileFromAPath() throws {
        #expect(try FileParams(Params(["fd": true], method: "m")).source == .passed(name: FileParams.defaultName))
        #expect(try FileParams(Params(["path": "a.safetensors"], method: "m")).source == .path("a.safetensors"))
        #expect(throws: RPCError.self) { try FileParams(Params(["fd": true, "path": "a"], method: "m")) }
        #expect(throws: RPCError.self) { try FileParams(Params(["name": "a"], method: "m")) }
        #expect(throws: RPCError.self) { try FileParams(Params(["fd": 1], method: "m")) }
    }

    @Test func otherParamsRoundTrip() throws {
        #expect(try ModeSetParams(Params(ModeSetParams(mode: "idle", force: true).json, method: "m")) == ModeSetParams(mode: "idle", force: true))
        #expect(try MoveParams(Params(MoveParams(q: [1, 2], duration: 3).json, method: "m")) == MoveParams(q: [1, 2], duration: 3))
        #expect(try TelemetrySubscribeParams(Params([:], method: "m")).rateHz == 100)
        #expect(throws: RPCError.self) { try TelemetrySubscribeParams(Params(["rate_hz": 0.5], method: "m")) }
        #expect(try LogSetLevelParams(Params(["level": "debug"], method: "m")).level == "debug")
    }

    @Test func resultsRoundTripAndNameAMalformedMember() throws {
        let planner = PlannerStatus(target: .path(waypoints: [[0, 0, 0], [1, 0, 0], [0, 1, 0]], period: 2), solves: 3, solveMs: 1.5,
                                    maxSolveMs: 2.5, iterations: 4, cost: 0.25, status: "converged", planAgeMs: nil, predictedErrorM: 0.01,
                                    reachM: 0.8, rateHz: 50, horizon: 40, dt: 0.02, modelVersion: 1, disagreement: 0.5, uncertainPlans: 0,
                                    fallbackPlans: 1, planningModel: "rigid_body", disagreementLimit: 2)
        #expect(try PlannerStatus(json: JSONValue.parse(planner.json.serialized)) == planner)
        let model = ModelStatus(version: 2, plannerVersion: 2, samples: 10, samplesSeen: 20, rounds: 1, validationMSE: 0.5, nominalMSE: nil,
                                lastTrainingSeconds: 1, lastTrainedAt: nil, lastOutcome: "adopted", training: false, warmStarted: true,
                                disagreement: 0, cpus: [1, 2], cpuWarning: nil)
        #expect(try ModelStatus(json: model.json) == model)
        let policy = PolicyLoadResult(loaded: "p", widths: [12, 64, 6], activation: "tanh", observation: ["q", "v"], robot: nil, provenance: "x")
        #expect(try PolicyLoadResult(json: policy.json) == policy)
        #expect(try ModelRollbackResult(json: ModelRollbackResult(fromVersion: 2, version: 1).json) == ModelRollbackResult(fromVersion: 2, version: 1))
        do {
            _ = try ModelSaveResult(json: ["saved": "x", "members": "five", "version": 1])
            Issue.record("accepted a malformed result")
        } catch {
            #expect(error.message.contains("\"members\" must be an integer") && error.message.contains("model.save"), "\(error)")
        }
    }

    @Test func errorObjectsRoundTrip() {
        let e = RPCError.notPermitted(method: "move", role: .observer, required: .operator)
        #expect(e.code == .notPermitted && e.code.rawValue == -32001)
        #expect(RPCError(json: e.json) == e)
        #expect(RPCError(json: ["code": "x", "message": "m"]) == nil)
    }
}
