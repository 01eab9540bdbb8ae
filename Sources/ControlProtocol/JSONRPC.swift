/// JSON-RPC 2.0 framing of robotd's control protocol (docs/protocol.md): requests, replies,
/// errors and typed access to params. Pure: no I/O, shared by the server and the clients.

/// An error reply, the one error type of the control protocol: the server throws it from its
/// handlers and writes it, typed params and results throw it when a field is wrong, and the
/// client hands it back when the daemon answered with an error (docs/protocol.md, "Errors").
///
/// Equality compares code, message and data.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A JSON-RPC error code: the standard ones and robotd's application codes. A struct around
    /// the integer (not a closed enum) because a client must carry codes it does not know.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public init(_ rawValue: Int) { self.rawValue = rawValue }

        /// The line is not JSON (-32700).
        public static let parseError = Code(-32700)
        /// JSON, but not a JSON-RPC 2.0 request object (-32600).
        public static let invalidRequest = Code(-32600)
        /// No such method (-32601).
        public static let methodNotFound = Code(-32601)
        /// A param is missing, unknown or of the wrong type or range (-32602).
        public static let invalidParams = Code(-32602)
        /// The daemon failed in a way it did not foresee (-32603).
        public static let internalError = Code(-32603)
        /// The caller's role does not allow the method (-32001, robotd).
        public static let notPermitted = Code(-32001)
        /// The loop refused the request in its current mode (-32002, robotd).
        public static let wrongMode = Code(-32002)
        /// Queue full, no answer within 1 s, too many connections or rate-limited (-32003, robotd).
        public static let busy = Code(-32003)
        /// The arm is faulted or in estop; `reset` first (-32004, robotd).
        public static let fault = Code(-32004)

        public var description: String { String(rawValue) }
    }

    public var code: Code
    public var message: String
    public var data: JSONValue?

    public init(code: Code, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public static func parseError(_ m: String, data: JSONValue? = nil) -> RPCError { .init(code: .parseError, message: m, data: data) }
    public static func invalidRequest(_ m: String) -> RPCError { .init(code: .invalidRequest, message: m) }
    public static func methodNotFound(_ method: String) -> RPCError {
        .init(code: .methodNotFound, message: "method not found: \(method)", data: ["method": .string(method)])
    }
    public static func invalidParams(_ m: String) -> RPCError { .init(code: .invalidParams, message: "invalid params: \(m)") }
    public static func internalError(_ m: String) -> RPCError { .init(code: .internalError, message: m) }
    public static func notPermitted(method: String, role: Role, required: Role) -> RPCError {
        .init(code: .notPermitted, message: "not permitted: \(method) needs the \(required) role, the caller is \(role)",
              data: ["role": .string("\(role)"), "required": .string("\(required)")])
    }
    public static func wrongMode(_ m: String, mode: String) -> RPCError { .init(code: .wrongMode, message: m, data: ["mode": .string(mode)]) }
    public static func busy(_ m: String, retryAfterMs: Int? = nil) -> RPCError {
        .init(code: .busy, message: m, data: retryAfterMs.map { ["retry_after_ms": JSONValue($0)] })
    }
    public static func fault(_ m: String, fault: String) -> RPCError { .init(code: .fault, message: m, data: ["fault": .string(fault)]) }

    public var description: String { "\(message) (\(code))" }

    /// The error object of a reply: `{"code": …, "message": "…", "data": …}`.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["code": JSONValue(code.rawValue), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }

    /// Reads an error object; nil when `json` is not one (no integral code or no message).
    public init?(json: JSONValue) {
        guard let code = json["code"]?.intValue, let message = json["message"]?.stringValue else { return nil }
        let data = json["data"]
        self.init(code: Code(code), message: message, data: data == .null ? nil : data)
    }
}

/// What a peer may do (docs/protocol.md, "Access control").
public enum Role: Int, Comparable, Sendable, CustomStringConvertible {
    case none
    case observer
    case `operator`

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .none: "none"
        case .observer: "observer"
        case .operator: "operator"
        }
    }
}

/// A line that is not a valid request, with its id when one could be read (so that the reply
/// can still be matched).
public struct RequestDecodeError: Error, Equatable, Sendable {
    public var id: JSONValue?
    /// A numeric id as written (see `RPCRequest.idLexeme`).
    public var idLexeme: [UInt8]? = nil
    public var error: RPCError
}

/// One parsed request line.
public struct RPCRequest: Sendable, Equatable {
    /// nil for a notification (no reply is sent).
    public var id: JSONValue?
    public var method: String
    public var params: JSONValue
    /// A numeric id exactly as the client wrote it, echoed in the reply instead of `id`'s value.
    public var idLexeme: [UInt8]? = nil

    /// Decodes a request object; the error carries the id when one could be read, so that the
    /// reply can still be matched.
    public static func decode(_ line: some Collection<UInt8>, lineNumber: Int) -> Result<RPCRequest, RequestDecodeError> {
        let value: JSONValue, lexeme: [UInt8]?
        do {
            (value, lexeme) = try JSONValue.parseRequest(line)
        } catch {
            return .failure(RequestDecodeError(id: nil, error: .parseError("parse error: \(error)", data: ["line": JSONValue(lineNumber)])))
        }
        guard case let .object(o) = value else {
            if case .array = value { return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: batches are not supported; send one request per line"))) }
            return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: expected a JSON-RPC request object, got \(value.typeName)")))
        }
        var id: JSONValue?
        if let raw = o["id"] {
            switch raw {
            case .number, .integer, .string, .null: id = raw
            default: return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: id must be a number or a string")))
            }
        }
        guard o["jsonrpc"] == .string("2.0") else {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"jsonrpc\" must be \"2.0\"")))
        }
        guard case let .string(method)? = o["method"] else {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"method\" must be a string")))
        }
        let params = o["params"] ?? .object([:])
        switch params {
        case .object, .array: break
        default: return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"params\" must be an object or an array")))
        }
        for key in o.keys where !["jsonrpc", "id", "method", "params"].contains(key) {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: unknown member \"\(key)\"")))
        }
        return .success(RPCRequest(id: id, method: method, params: params, idLexeme: id == nil ? nil : lexeme))
    }
}

/// Reply and notification lines (UTF-8, without the newline), keys sorted.
public enum RPCResponse {
    public static func result(id: JSONValue, idLexeme: [UInt8]? = nil, _ result: JSONValue) -> [UInt8] {
        guard let idLexeme else { return JSONValue.object(["jsonrpc": "2.0", "id": id, "result": result]).serializedBytes }
        return reply(idLexeme: idLexeme, member: "result", result)
    }

    public static func error(id: JSONValue?, idLexeme: [UInt8]? = nil, _ error: RPCError) -> [UInt8] {
        guard let idLexeme else { return JSONValue.object(["jsonrpc": "2.0", "id": id ?? .null, "error": error.json]).serializedBytes }
        return reply(idLexeme: idLexeme, member: "error", error.json)
    }

    /// A reply whose id is the request's numeric lexeme, keys sorted as `serializedBytes` sorts
    /// them ("error" < "id" < "jsonrpc" < "result").
    private static func reply(idLexeme: [UInt8], member: String, _ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        out.append(UInt8(ascii: "{"))
        if member == "error" {
            JSONValue.append(#""error":"#, to: &out)
            value.write(to: &out)
            out.append(UInt8(ascii: ","))
        }
        JSONValue.append(#""id":"#, to: &out)
        out.append(contentsOf: idLexeme)
        JSONValue.append(#","jsonrpc":"2.0""#, to: &out)
        if member == "result" {
            JSONValue.append(#","result":"#, to: &out)
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func notification(method: String, params: JSONValue) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "method": .string(method), "params": params]).serializedBytes
    }
}

/// A request line (UTF-8, without the newline), keys sorted: what clients send.
public enum RPCRequestLine {
    /// `{"id": id, "jsonrpc": "2.0", "method": method, "params": params}`; no `id` makes it a
    /// notification, nil `params` leaves them out.
    public static func encode(method: String, params: JSONValue?, id: Int?) -> [UInt8] {
        var o: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(method)]
        if let id { o["id"] = JSONValue(id) }
        if let params { o["params"] = params }
        return JSONValue.object(o).serializedBytes
    }
}

/// Typed access to the members of a request's params (or of a result) with errors that name
/// the member by its path from the top (`"joints"."q"[2]`, `"faults"[0]."tick"`). Params errors
/// are *invalid params* (-32602); a result that does not read is the daemon's fault (*internal
/// error*, -32603, "malformed … result").
///
/// In a result, a `null` where a number belongs reads as NaN: the printer writes non-finite
/// numbers as `null` (JSON has none), and one such figure must not hide the rest of a status.
public struct Params: Sendable {
    public let value: JSONValue
    public let method: String
    /// Reading a result (`ofResult:`), not a request's params.
    public let isResult: Bool
    /// Where `value` sits in the top-level object, as errors print it (`"joints".`; empty at the top).
    public let path: String

    public init(_ value: JSONValue, method: String) {
        self.init(value, method: method, isResult: false, path: "")
    }

    public init(ofResult value: JSONValue, method: String) {
        self.init(value, method: method, isResult: true, path: "")
    }

    private init(_ value: JSONValue, method: String, isResult: Bool, path: String) {
        self.value = value
        self.method = method
        self.isResult = isResult
        self.path = path
    }

    public func fail(_ message: String) -> RPCError {
        isResult ? .internalError("malformed \(method) result: \(message)") : .invalidParams(message)
    }

    /// The member `key` as errors name it: its path and its quoted name.
    public func name(_ key: String) -> String { "\(path)\"\(key)\"" }

    public func has(_ key: String) -> Bool { value[key] != nil }

    /// Rejects params this method does not know (a typo must not pass silently).
    public func allowOnly(_ keys: Set<String>) throws(RPCError) {
        if case let .array(a) = value, !a.isEmpty {
            throw fail("\(method) takes named params (an object)")
        }
        guard case let .object(o) = value else { return }
        for k in o.keys.sorted() where !keys.contains(k) {
            let known = keys.isEmpty ? "none" : keys.sorted().joined(separator: ", ")
            throw fail("unknown param \(name(k)) for \(method) (known: \(known))")
        }
    }

    /// One number: a result's `null` is NaN (see above), a request's is absent.
    private func numberValue(_ v: JSONValue, _ what: @autoclosure () -> String) throws(RPCError) -> Double {
        if let x = v.doubleValue { return x }
        if isResult, v == .null { return .nan }
        throw fail("\(what()) must be a number, got \(v.typeName)")
    }

    public func optionalNumber(_ key: String) throws(RPCError) -> Double? {
        guard let v = value[key], v != .null else { return nil }
        return try numberValue(v, name(key))
    }

    public func number(_ key: String) throws(RPCError) -> Double {
        guard let v = value[key], isResult || v != .null else { throw fail("missing \(name(key))") }
        return try numberValue(v, name(key))
    }

    public func optionalInt(_ key: String) throws(RPCError) -> Int? {
        guard let v = value[key], v != .null else { return nil }
        guard let x = v.intValue else { throw fail("\(name(key)) must be an integer, got \(v.typeName == "number" ? "\(v.serialized)" : v.typeName)") }
        return x
    }

    public func int(_ key: String) throws(RPCError) -> Int {
        guard let x = try optionalInt(key) else { throw fail("missing \(name(key))") }
        return x
    }

    public func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        guard let v = value[key], v != .null else { return nil }
        guard case let .bool(b) = v else { throw fail("\(name(key)) must be true or false, got \(v.typeName)") }
        return b
    }

    public func bool(_ key: String) throws(RPCError) -> Bool {
        guard let b = try optionalBool(key) else { throw fail("missing \(name(key))") }
        return b
    }

    public func string(_ key: String) throws(RPCError) -> String {
        guard let v = value[key] else { throw fail("missing \(name(key))") }
        guard case let .string(s) = v else { throw fail("\(name(key)) must be a string, got \(v.typeName)") }
        return s
    }

    public func optionalString(_ key: String) throws(RPCError) -> String? {
        guard let v = value[key], v != .null else { return nil }
        return try string(key)
    }

    /// The member `key`, which must be an array: its elements with their paths (`"q"[2]`).
    private func array(_ key: String, of what: String) throws(RPCError) -> [(JSONValue, String)] {
        guard let v = value[key] else { throw fail("missing \(name(key))") }
        guard case let .array(a) = v else { throw fail("\(name(key)) must be an array of \(what), got \(v.typeName)") }
        return a.enumerated().map { ($1, "\(name(key))[\($0)]") }
    }

    public func numbers(_ key: String) throws(RPCError) -> [Double] {
        var out: [Double] = []
        for (x, at) in try array(key, of: "numbers") { out.append(try numberValue(x, at)) }
        return out
    }

    public func optionalNumbers(_ key: String) throws(RPCError) -> [Double]? {
        guard let v = value[key], v != .null else { return nil }
        return try numbers(key)
    }

    /// An array of arrays of numbers (a matrix's rows, a path's waypoints).
    public func numberRows(_ key: String) throws(RPCError) -> [[Double]] {
        var rows: [[Double]] = []
        for (row, at) in try array(key, of: "arrays of numbers") {
            guard case let .array(xs) = row else { throw fail("\(at) must be an array of numbers, got \(row.typeName)") }
            var out: [Double] = []
            for (j, x) in xs.enumerated() { out.append(try numberValue(x, "\(at)[\(j)]")) }
            rows.append(out)
        }
        return rows
    }

    public func ints(_ key: String) throws(RPCError) -> [Int] {
        var out: [Int] = []
        for (x, at) in try array(key, of: "integers") {
            guard let n = x.intValue else { throw fail("\(at) must be an integer, got \(x.typeName)") }
            out.append(n)
        }
        return out
    }

    public func strings(_ key: String) throws(RPCError) -> [String] {
        var out: [String] = []
        for (x, at) in try array(key, of: "strings") {
            guard case let .string(s) = x else { throw fail("\(at) must be a string, got \(x.typeName)") }
            out.append(s)
        }
        return out
    }

    /// The member `key`, which must be an object, read the same way (params or result); its
    /// errors name it as the path (`"joints"."q"`).
    public func object(_ key: String) throws(RPCError) -> Params {
        guard let v = value[key] else { throw fail("missing \(name(key))") }
        guard case .object = v else { throw fail("\(name(key)) must be an object, got \(v.typeName)") }
        return Params(v, method: method, isResult: isResult, path: name(key) + ".")
    }

    /// `object(key)`, or nil when the member is absent or `null`.
    public func optionalObject(_ key: String) throws(RPCError) -> Params? {
        guard let v = value[key], v != .null else { return nil }
        return try object(key)
    }

    /// The member `key`, which must be an array of objects (`"faults"[0].`).
    public func objects(_ key: String) throws(RPCError) -> [Params] {
        var out: [Params] = []
        for (x, at) in try array(key, of: "objects") {
            guard case .object = x else { throw fail("\(at) must be an object, got \(x.typeName)") }
            out.append(Params(x, method: method, isResult: isResult, path: at + "."))
        }
        return out
    }
}
