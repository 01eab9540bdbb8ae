import ControlProtocol
import Testing

/// `teleop.*` params and results: the wire text round-trips, `status.teleop` is absent without a
/// teleop source, and a malformed stream request is refused naming the member.
@Suite struct TeleopMessagesTests {
    func roundTrip<R: ControlResult>(_ x: R) throws -> R {
        try R(json: JSONValue.parse(x.json.serialized))
    }

    static let teleop = TeleopStatus(source: "stream", acting: true, inputAgeS: 0.012, latencyP50Ms: 0.9, latencyP99Ms: 1.8, received: 1520,
                                     refused: 2, takeoverFrom: "policy")

    @Test func resultsRoundTrip() throws {
        #expect(try roundTrip(Self.teleop) == Self.teleop)
        let fresh = TeleopStatus(source: "stream", acting: false, inputAgeS: nil, latencyP50Ms: 0, latencyP99Ms: 0, received: 0, refused: 0)
        #expect(try roundTrip(fresh) == fresh)
        #expect(fresh.json["input_age_s"] == .null && fresh.json["takeover_from"] == .null)
        let joint = TeleopStreamResult(q: [0.1, -0.2], sequence: 17, mode: "teleop")
        #expect(try roundTrip(joint) == joint)
        #expect(joint.json["position_error_m"] == nil)
        let pose = TeleopStreamResult(q: [0.1, -0.2], sequence: 18, mode: "hold", positionErrorM: 2e-7, orientationErrorRad: 0)
        #expect(try roundTrip(pose) == pose)
        #expect(try roundTrip(TeleopSwitchResult(mode: "teleop", from: "mpc")) == TeleopSwitchResult(mode: "teleop", from: "mpc"))
        var status = TypedResultsTests.status
        #expect(status.json["teleop"] == nil)
        status.teleop = Self.teleop
        #expect(try roundTrip(status) == status)
        #expect(status.json["teleop"]?["latency_ms"]?["p99"] == .number(1.8))
    }

    @Test func streamParamsDecodeAndRefuse() throws {
        func params(_ text: String) throws(RPCError) -> TeleopStreamParams {
            try TeleopStreamParams(Params((try? JSONValue.parse(text)) ?? .null, method: ControlMethod.teleopStream))
        }
        #expect(try params(#"{"q": [0, 1]}"#).target == .joints([0, 1]))
        #expect(try params(#"{"position": [0.4, 0, 0.5], "orientation": [1, 0, 0, 0]}"#).target
            == .pose(position: [0.4, 0, 0.5], orientation: [1, 0, 0, 0]))
        for p in [TeleopStreamParams(target: .joints([0.5])), TeleopStreamParams(target: .pose(position: [1, 2, 3], orientation: nil))] {
            #expect(try TeleopStreamParams(Params(p.json, method: ControlMethod.teleopStream)) == p)
        }
        let refusals = [
            (#"{}"#, "exactly one"), (#"{"q": [0], "position": [0, 0, 0]}"#, "exactly one"),
            (#"{"position": [0, 0]}"#, "3 values"), (#"{"position": [0, 0, 0], "orientation": [1, 0, 0]}"#, "quaternion"),
            (#"{"q": [0], "orientation": [1, 0, 0, 0]}"#, "goes with \"position\""), (#"{"q": "x"}"#, "\"q\""), (#"{"q": [0], "rate": 5}"#, "rate"),
        ]
        for (text, reason) in refusals {
            #expect(throws: RPCError.self) { try params(text) }
            do {
                _ = try params(text)
            } catch {
                #expect(error.message.contains(reason), "\(text): \(error.message)")
            }
        }
    }
}
