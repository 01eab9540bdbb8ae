import ControlProtocol
import ControlRuntime
@testable import ControlServer
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// The telemetry hub on virtual time (an embedded event loop): which samples each subscriber
/// gets, what they contain, and how many encodings they cost.
@Suite struct TelemetryHubTests {
    /// A receiver that keeps its lines, as `ConnectionHandler` would send them.
    final class Receiver: TelemetryReceiver {
        var telemetrySlot: TelemetryHub.Slot?
        let subscription: Int
        var writable = true
        var dropped = 0
        var lines: [[UInt8]] = []

        init(subscription: Int) { self.subscription = subscription }

        func receive(_ line: TelemetryLine) {
            guard writable else { dropped += 1; return }
            var out: [UInt8] = []
            line.write(subscription: subscription, dropped: dropped, to: &out)
            lines.append(out)
        }

        var params: [[String: Any]] {
            lines.map { line in
                let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
                return object?["params"] as? [String: Any] ?? [:]
            }
        }

        var ticks: [Int] { params.map { $0["tick"] as? Int ?? -1 } }
    }

    /// A 1 kHz loop whose snapshot follows the embedded clock; q, v, … are functions of the tick.
    static func snapshot(at now: NIODeadline) -> TelemetrySnapshot {
        var t = TelemetrySnapshot()
        t.tick = UInt64(now.uptimeNanoseconds / 1_000_000)
        t.time = Double(t.tick) * 0.001
        t.mode = .hold
        t.dof = 3
        for i in 0 ..< 3 {
            t.position[i] = Double(t.tick) * 0.001 + Double(i)
            t.velocity[i] = -Double(i) / 3
            t.effort[i] = Double(t.tick % 7) * 1e-300
            t.command[i] = i == 2 ? .nan : Double(i) * 2.5
            t.endEffectorPosition[i] = 0.1 * Double(i)
        }
        return t
    }

    static func sample(_ t: TelemetrySnapshot) -> TelemetrySample {
        TelemetrySample(subscription: 0, tick: Int(t.tick), loopTimeS: t.time, mode: "\(t.mode)",
                        q: (0 ..< 3).map { t.position[$0] }, v: (0 ..< 3).map { t.velocity[$0] }, effort: (0 ..< 3).map { t.effort[$0] },
                        command: (0 ..< 3).map { t.command[$0] }, endEffector: (0 ..< 3).map { t.endEffectorPosition[$0] }, dropped: 0,
                        disagreement: nil, modelVersion: 3)
    }

    static func makeHub(_ loop: EmbeddedEventLoop) -> TelemetryHub {
        TelemetryHub(eventLoop: loop, snapshot: { snapshot(at: loop.now) }, sample: sample, now: { loop.now })
    }

    @Test func subscribersAtDifferentRatesGetExactlyTheirSamplesFromOneEncodingPerInstant() throws {
        let loop = EmbeddedEventLoop()
        let hub = Self.makeHub(loop)
        let fast = (1 ... 3).map { Receiver(subscription: $0) }
        let medium = (4 ... 5).map { Receiver(subscription: $0) }
        let slow = Receiver(subscription: 6)
        for r in fast { hub.subscribe(r, rateHz: 100) }
        for r in medium { hub.subscribe(r, rateHz: 50) }
        hub.subscribe(slow, rateHz: 20)
        #expect(hub.subscribers == 6)

        loop.advanceTime(by: .seconds(1))
        for r in fast { #expect(r.ticks == Array(stride(from: 10, through: 1000, by: 10)), "100 Hz: one sample every 10 ticks") }
        for r in medium { #expect(r.ticks == Array(stride(from: 20, through: 1000, by: 20)), "50 Hz") }
        #expect(slow.ticks == Array(stride(from: 50, through: 1000, by: 50)), "20 Hz")
        // The 50 Hz and 20 Hz instants are 100 Hz instants: one encoding each, for everyone.
        #expect(hub.encodings == 100)
        #expect(hub.deliveries == 3 * 100 + 2 * 50 + 20)

        // Shared bytes, own members: every line is what the plain encoder makes of the sample with
        // this subscriber's subscription and dropped.
        for r in fast + medium + [slow] {
            for (line, tick) in zip(r.lines, r.ticks) {
                var s = Self.sample(Self.snapshot(at: .uptimeNanoseconds(UInt64(tick) * 1_000_000)))
                s.subscription = r.subscription
                #expect(line == RPCResponse.notification(method: ControlMethod.telemetry, params: s.json))
                #expect(!line.contains(UInt8(ascii: "\n")), "one JSON object per line")
            }
            for p in r.params { #expect(p["subscription"] as? Int == r.subscription) }
        }
    }

    @Test func leavingAndChangingRateTouchOnlyThatSubscriber() throws {
        let loop = EmbeddedEventLoop()
        let hub = Self.makeHub(loop)
        let a = Receiver(subscription: 1), b = Receiver(subscription: 2), c = Receiver(subscription: 3)
        for r in [a, b, c] { hub.subscribe(r, rateHz: 100) }
        loop.advanceTime(by: .milliseconds(100))
        hub.unsubscribe(a) // the first slot: c moves into it
        loop.advanceTime(by: .milliseconds(100))
        #expect(a.lines.count == 10)
        #expect(b.lines.count == 20 && c.lines.count == 20)
        hub.unsubscribe(a) // twice: nothing
        hub.subscribe(b, rateHz: 100) // same rate again: unchanged
        hub.subscribe(c, rateHz: 10)
        loop.advanceTime(by: .milliseconds(100))
        #expect(b.lines.count == 30)
        #expect(c.lines.count == 21, "10 Hz from now on")
        hub.unsubscribe(b)
        hub.unsubscribe(c)
        #expect(hub.subscribers == 0)
        loop.advanceTime(by: .milliseconds(100))
        #expect(b.lines.count == 30 && c.lines.count == 21)
        // A new subscriber after all left gets a fresh stream.
        hub.subscribe(a, rateHz: 50)
        loop.advanceTime(by: .milliseconds(100))
        #expect(a.lines.count == 15)
    }

    @Test func aReceiverThatCannotTakeSamplesCountsThemAndDelaysNobody() throws {
        let loop = EmbeddedEventLoop()
        let hub = Self.makeHub(loop)
        let stuck = Receiver(subscription: 1), reader = Receiver(subscription: 2)
        stuck.writable = false
        hub.subscribe(stuck, rateHz: 100)
        hub.subscribe(reader, rateHz: 100)
        loop.advanceTime(by: .milliseconds(500))
        #expect(reader.lines.count == 50)
        #expect(stuck.lines.isEmpty && stuck.dropped == 50)
        stuck.writable = true
        loop.advanceTime(by: .milliseconds(10))
        #expect(stuck.params.last?["dropped"] as? Int == 50, "the next sample carries the cumulative count")
    }

    @Test func theEventLoopStaysOffAPinnedControlThreadsCPU() {
        #expect(ControlServer.serverCPUs(loopCPU: nil, allowed: [0, 1]) == nil, "loop not pinned: mask left alone")
        #expect(ControlServer.serverCPUs(loopCPU: 1, allowed: [0, 1, 2]) == [0, 2])
        #expect(ControlServer.serverCPUs(loopCPU: 0, allowed: [0]) == nil, "no other CPU: shares it")
        #expect(ControlServer.serverCPUs(loopCPU: 3, allowed: [0, 1]) == [0, 1])
    }
}
