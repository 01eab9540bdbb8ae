@testable import ControlProtocol
import Testing

/// The shared telemetry encoding against the plain one (`RPCResponse.notification` of the
/// sample's `json`): the same bytes for every subscriber's `subscription` and `dropped`.
@Suite struct TelemetryLineTests {
    static let samples: [TelemetrySample] = [
        TelemetrySample(subscription: 0, tick: 0, loopTimeS: 0, mode: "idle", q: [], v: [], effort: [], command: [],
                        endEffector: [0, 0, 0], dropped: 0, disagreement: nil, modelVersion: nil),
        TelemetrySample(subscription: 0, tick: 20713, loopTimeS: 20.713, mode: "hold", q: [0.1, -2.5e-8, 3, .pi],
                        v: [1e300, -0.0, 5e-324, 123_456_789.25], effort: [.nan, .infinity, -.infinity, 1],
                        command: [9_007_199_254_740_993, -9_007_199_254_740_992, 0.5, -1],
                        endEffector: [0.25, -0.125, 1e-17], dropped: 0, disagreement: 0.0031, modelVersion: 12),
        TelemetrySample(subscription: 0, tick: Int.max, loopTimeS: 1e9, mode: "fau\"lt\\ed\n", q: [1], v: [2], effort: [3], command: [4],
                        endEffector: [5, 6, 7], dropped: 0, disagreement: .nan, modelVersion: 0),
    ]

    @Test(arguments: 0 ..< samples.count)
    func everySubscribersLineIsThePlainEncodingOfItsSample(_ k: Int) {
        var line = TelemetryLine()
        // Re-encoding in place must not keep anything of the previous sample.
        line.encode(Self.samples[(k + 1) % Self.samples.count])
        line.encode(Self.samples[k])
        #expect(line.tick == Self.samples[k].tick)
        for (subscription, dropped) in [(1, 0), (42, 7), (Int.max, Int.max), (0, 1_000_000)] {
            var s = Self.samples[k]
            s.subscription = subscription
            s.dropped = dropped
            var out: [UInt8] = []
            line.write(subscription: subscription, dropped: dropped, to: &out)
            let plain = RPCResponse.notification(method: ControlMethod.telemetry, params: s.json)
            #expect(out == plain, "\(String(decoding: out, as: UTF8.self))\n\(String(decoding: plain, as: UTF8.self))")
            #expect(out.count <= line.maximumLength)
            // And it reads back as the sample (sample 1's non-finite figures print as null, which the
            // typed decoder need not read back).
            guard k != 1 else { continue }
            let back = try? TelemetrySample(Params(JSONValue.parse(out)["params"] ?? .null, method: "telemetry"))
            #expect(back?.subscription == subscription && back?.dropped == dropped && back?.tick == s.tick)
        }
    }

    @Test func integersPrintAsStringDoes() {
        for i: Int64 in [0, 1, -1, 9, 10, -10, 99, 100, 123_456_789, Int64.max, Int64.min, Int64.min + 1] {
            var out: [UInt8] = []
            JSONValue.writeInteger(i, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(i))
        }
    }

    @Test func objectKeysAreSortedAsStringsSortThem() {
        let keys = ["b", "a", "ab", "", "a_b", "aB", "A", "é", "z", "ζ", "Z9", "10", "9"]
        let object = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, JSONValue($0)) }))
        var out: [UInt8] = []
        object.write(to: &out)
        let expected = "{" + keys.sorted().map { k in
            var s: [UInt8] = []
            JSONValue.writeString(k, to: &s)
            return String(decoding: s, as: UTF8.self) + ":" + String(keys.firstIndex(of: k)!)
        }.joined(separator: ",") + "}"
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }
}
