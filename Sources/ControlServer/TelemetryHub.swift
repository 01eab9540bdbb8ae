import ControlProtocol
import ControlRuntime
import NIOCore

/// A connection that receives telemetry (`ConnectionHandler`).
protocol TelemetryReceiver: AnyObject {
    /// Where the hub keeps this receiver; nil while unsubscribed. Owned by the hub.
    var telemetrySlot: TelemetryHub.Slot? { get set }
    /// Sends (or, when the connection cannot take it, counts as dropped) one sample.
    func receive(_ line: TelemetryLine)
}

/// Every telemetry subscription of the server, grouped by rate: one timer per rate (not one per
/// connection), one snapshot read and one encoding per sample for all its subscribers (only
/// `dropped` and `subscription` differ, `TelemetryLine`), and all rates on one grid from a common
/// epoch, so the 50 Hz samples fall on 100 Hz instants and share their encoding too.
/// Work per sample: O(subscribers) copies into their send buffers; joining and leaving are O(1).
/// Lives on the server's event loop.
final class TelemetryHub {
    struct Slot {
        var rateHz: Int
        var index: Int
    }

    private struct Group {
        var members: [TelemetryReceiver] = []
        var task: Scheduled<Void>?
    }

    private var groups: [Int: Group] = [:]
    private let eventLoop: EventLoop
    private let epoch: NIODeadline
    /// The event loop's clock (`NIODeadline.now` on a real loop; the embedded loop's in tests).
    private let now: () -> NIODeadline
    private let snapshot: () -> TelemetrySnapshot
    private let sample: (TelemetrySnapshot) -> TelemetrySample
    private var line = TelemetryLine()
    private var encodedAt = NIODeadline.distantPast
    /// Samples encoded and lines handed to receivers since start (for tests: one encoding per instant).
    private(set) var encodings = 0
    private(set) var deliveries = 0

    init(eventLoop: EventLoop, snapshot: @escaping () -> TelemetrySnapshot, sample: @escaping (TelemetrySnapshot) -> TelemetrySample,
         now: @escaping () -> NIODeadline = { .now() }) {
        self.eventLoop = eventLoop
        self.now = now
        epoch = now()
        self.snapshot = snapshot
        self.sample = sample
    }

    var subscribers: Int { groups.values.reduce(0) { $0 + $1.members.count } }

    /// Starts `receiver`'s stream at `rateHz` (moving it from its old rate, if any); its first
    /// sample comes at the rate's next instant on the grid (within one period).
    func subscribe(_ receiver: TelemetryReceiver, rateHz: Int) {
        precondition(rateHz > 0)
        if let slot = receiver.telemetrySlot {
            if slot.rateHz == rateHz { return }
            unsubscribe(receiver)
        }
        var group = groups.removeValue(forKey: rateHz) ?? Group()
        receiver.telemetrySlot = Slot(rateHz: rateHz, index: group.members.count)
        group.members.append(receiver)
        if group.task == nil { group.task = schedule(rateHz: rateHz, at: nextInstant(rateHz: rateHz, after: now())) }
        groups[rateHz] = group
    }

    /// Stops `receiver`'s stream (nothing when it has none).
    func unsubscribe(_ receiver: TelemetryReceiver) {
        guard let slot = receiver.telemetrySlot, var group = groups.removeValue(forKey: slot.rateHz) else { return }
        receiver.telemetrySlot = nil
        let last = group.members.removeLast()
        if slot.index < group.members.count {
            group.members[slot.index] = last
            last.telemetrySlot?.index = slot.index
        }
        if group.members.isEmpty {
            group.task?.cancel()
        } else {
            groups[slot.rateHz] = group
        }
    }

    private func period(_ rateHz: Int) -> Int64 { 1_000_000_000 / Int64(rateHz) }

    /// The first instant of `rateHz`'s grid (epoch + k·period) strictly after `t`.
    private func nextInstant(rateHz: Int, after t: NIODeadline) -> NIODeadline {
        let p = period(rateHz)
        let k = (t - epoch).nanoseconds / p + 1
        return epoch + .nanoseconds(k * p)
    }

    private func schedule(rateHz: Int, at deadline: NIODeadline) -> Scheduled<Void> {
        eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in fire(rateHz: rateHz, at: deadline) }
    }

    private func fire(rateHz: Int, at deadline: NIODeadline) {
        guard let members = groups[rateHz]?.members else { return }
        let now = now()
        let t = snapshot()
        // Another rate's sample of the same tick, taken at this instant, is this one's too.
        if line.tick != Int(clamping: t.tick) || now - encodedAt > .milliseconds(1) {
            line.encode(sample(t))
            encodedAt = now
            encodings += 1
        }
        for m in members { m.receive(line) }
        deliveries += members.count
        // Absolute schedule; a late wake-up skips to the next instant instead of bursting.
        var next = deadline + .nanoseconds(period(rateHz))
        if next <= now { next = nextInstant(rateHz: rateHz, after: now) }
        groups[rateHz]?.task = schedule(rateHz: rateHz, at: next)
    }
}
