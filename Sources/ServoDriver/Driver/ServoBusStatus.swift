/// A servo bus's health, as `status` and `robotctl timing` show it: a snapshot taken by
/// `ServoBusMonitor.snapshot()`.
public struct ServoBusStatus: Sendable, Equatable {
    public enum Connection: String, Sendable, Equatable {
        /// The port is open and the bus cycles.
        case connected
        /// The driver latched a fault (servo hardware error, failed cycles, lost port); `reset`
        /// (cleanup → configure → activate) re-arms it.
        case faulted
        /// The port is closed (before configure, after cleanup, or lost).
        case disconnected
    }

    /// One servo's counters and slow readings.
    public struct Servo: Sendable, Equatable {
        public var id: UInt8
        public var joint: String
        /// State reads this servo missed (no reply, corrupt reply) since configure.
        public var errors: Int
        /// °C, sampled at the diagnostics rate; nil before the first sample.
        public var temperatureCelsius: Double?
        /// Supply voltage (V), sampled at the diagnostics rate.
        public var voltageVolts: Double?
        /// The hardware errors the servo reports ("overload", "overheating", …), empty when none.
        public var hardwareErrors: [String]
    }

    public var connection: Connection = .disconnected
    public var port: String
    /// `feetech` or `dynamixel`.
    public var busProtocol: String
    public var baud: Int
    /// Torque is on and goals are being written.
    public var active = false
    /// Configured cycle rate (Hz).
    public var targetRateHz: Double
    /// Cycles completed per second over the last second.
    public var cycleRateHz = 0.0
    /// Duration of one cycle (write goals + read state, plus diagnostics when due) over the last
    /// 1024 cycles (µs).
    public var cycleTimeP50Microseconds = 0.0
    public var cycleTimeP99Microseconds = 0.0
    /// Timed-out or corrupt transaction attempts, unexpected replies and transport errors per
    /// second, over the last second.
    public var errorsPerSecond = 0.0
    /// Transaction attempts repeated within a cycle per second, over the last second.
    public var retriesPerSecond = 0.0
    /// Cycles since configure.
    public var cycles: UInt64 = 0
    /// Cycles whose state read missed a servo after the retries (published as invalid).
    public var failedCycles: UInt64 = 0
    /// Bus periods missed because cycles ran long (retries, a slow bus): `FixedRateSchedule.overruns`.
    public var overruns: UInt64 = 0
    /// Totals since configure, from the transaction layer.
    public var errors = 0
    public var retries = 0
    /// Goals that were NaN or infinite (the previous goal was kept).
    public var rejectedGoals: UInt64 = 0
    /// Goals changed by the soft limits or the per-cycle step limit before they were sent.
    public var limitedGoals: UInt64 = 0
    public var servos: [Servo]
    /// What latched the current fault, as a sentence naming the servo, its joint and the
    /// reason ("servo 3 (elbow_flex): overload"); nil when not faulted. Kept after the fault
    /// clears, as the last one, until the next.
    public var lastFault: String?
    /// The cycle number (`cycles`) at which the fault latched.
    public var faultCycle: UInt64?
    /// Advice for the operator (the FTDI latency timer, a refused thread priority).
    public var warnings: [String] = []
}
