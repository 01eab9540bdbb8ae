import Synchronization

/// The bus I/O thread's counters, readable from any thread (`snapshot()`): what `status` and
/// `robotctl timing` report about the servo bus.
///
/// The I/O thread updates it under a short lock once per cycle; readers copy the arrays out
/// (never sharing their buffers, so the I/O thread's next write does not copy-on-write).
public final class ServoBusMonitor: Sendable {
    struct State {
        var status: ServoBusStatus
        /// Cycle durations (ns), a ring of `durationCapacity`.
        var durations: [UInt64]
        var durationCount = 0
        var durationNext = 0
    }

    static let durationCapacity = 1024
    let state: Mutex<State>

    init(options: ServoArmOptions) {
        let servos = options.ids.indices.map { i in
            ServoBusStatus.Servo(id: options.ids[i], joint: options.jointNames[i], errors: 0, hardwareErrors: [])
        }
        let status = ServoBusStatus(port: options.port, busProtocol: options.busProtocol.rawValue, baud: options.baud,
                                    targetRateHz: options.busRateHz, servos: servos)
        state = Mutex(State(status: status, durations: Array(repeating: 0, count: Self.durationCapacity)))
    }

    /// The bus's health now.
    /// - Warning: Not real-time safe (allocates the copy).
    public func snapshot() -> ServoBusStatus {
        let (copy, sorted): (ServoBusStatus, [UInt64]) = state.withLock { s in
            var c = s.status
            c.servos = s.status.servos.map { $0 }
            c.warnings = s.status.warnings.map { $0 }
            return (c, s.durations[0..<s.durationCount].map { $0 })
        }
        var status = copy
        let d = sorted.sorted()
        func quantile(_ p: Double) -> Double {
            guard !d.isEmpty else { return 0 }
            return Double(d[min(d.count - 1, max(0, Int((p * Double(d.count)).rounded(.up)) - 1))]) / 1000
        }
        status.cycleTimeP50Microseconds = quantile(0.5)
        status.cycleTimeP99Microseconds = quantile(0.99)
        return status
    }

    /// I/O thread: edits the status in place.
    /// - Note: Allocates nothing as long as `body` only assigns scalars or array elements.
    func update(_ body: (inout ServoBusStatus) -> Void) {
        state.withLock { body(&$0.status) }
    }

    /// I/O thread: records one cycle's duration and edits the status.
    func record(cycleNanoseconds: UInt64, _ body: (inout ServoBusStatus) -> Void) {
        state.withLock { s in
            s.durations[s.durationNext] = cycleNanoseconds
            s.durationNext = (s.durationNext + 1) % Self.durationCapacity
            s.durationCount = min(s.durationCount + 1, Self.durationCapacity)
            body(&s.status)
        }
    }

    /// Forgets the cycle durations (a new configure).
    func resetDurations() {
        state.withLock { s in
            s.durationCount = 0
            s.durationNext = 0
        }
    }
}
