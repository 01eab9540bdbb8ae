import Control
import RigidBody
import RobotInterface
import Synchronization

/// One streamed joint target as a client thread posts it (`StreamedTeleop.post`).
public struct TeleopInput: Sendable, BitwiseCopyable {
    /// 1, 2, … in posting order; 0 = nothing posted yet.
    public var sequence: UInt64 = 0
    /// When it was posted (ns on the source's clock: CLOCK_MONOTONIC in the daemon).
    public var postedAt: UInt64 = 0
    /// Joint positions (rad or m), the first dof entries.
    public var q = InlineArray<8, Double>(repeating: 0)
    public init() {}
}

/// What the tick reports about a teleop stream, published through a seqlock whenever it changes.
public struct TeleopStatistics: Sendable, BitwiseCopyable {
    /// Post time → the first tick that commanded it (ns), one sample per input the tick used.
    public var latency = LatencyHistogram()
    /// The newest input the tick has seen (sequence and post time, ns), 0 before the first.
    public var newestSequence: UInt64 = 0
    public var newestPostedAt: UInt64 = 0
    /// Whether the source produced the last tick's action (fresh input, in `teleop`).
    public var acting = false
    /// Inputs the tick would not use: a non-finite joint target (the socket refuses those first).
    public var refused: UInt64 = 0
    public init() {}

    /// The latency at quantile `q` in ms (0 before the first input), for `status.teleop`.
    public func latencyMilliseconds(atQuantile q: Double) -> Double {
        latency.total == 0 ? 0 : Double(latency.value(atQuantile: q)) * 1e-6
    }
}

/// The streamed-target teleop source (`teleop.source: stream`): a client thread posts joint
/// targets (`post`, e.g. from `teleop.stream` after inverse kinematics on the socket thread); the
/// tick, in mode `teleop`, drives the arm towards the newest one.
///
/// Per tick, with the newest input q* (joint positions) posted at t_post, on the source's clock:
/// - no input yet, older than `timeout` (now − t_post), or not finite → no action: the loop
///   holds where the arm is (ControlLoop: a source that stops acting);
/// - otherwise the reference r moves towards q* as `TeleopReference` says (engage from the measured
///   q, a per-tick step limit, bounded acceleration, targets kept inside the limits);
/// - the action: position servos get r as goal (the loop adds gravity's feedforward); a torque
///   arm gets the PD law of `JointPDController` towards r with ṙ = Δr / period:
///   τ = g(q) + K_p (r − q) + K_d (ṙ − q̇).
///
/// Latency (post → the first tick that commands that input) is measured on the tick, with the
/// same clock the poster stamps with.
public final class StreamedTeleop: Policy, @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Oldest input the source still acts on (s, `teleop.timeout`).
        public var timeout = 0.25
        /// Fastest the reference moves towards a target (rad/s or m/s, `teleop.max_velocity`);
        /// each joint's limiter velocity caps it too.
        public var maxVelocity = 1.0
        /// Fastest the reference's speed changes (rad/s² or m/s², `teleop.max_acceleration`).
        public var maxAcceleration = 10.0
        /// The loop's tick period (s).
        public var period = 0.001
        public init() {}
    }

    public let name = "stream"
    public let dof: Int
    public let actionKind: CommandMode
    public var needs: PolicyObservation.Needs { [] }
    public var isOperatedByPerson: Bool { true }
    public let configuration: Configuration
    public let limits: JointLimits
    /// What the tick last published (any thread).
    public let statistics = SeqLock(TeleopStatistics())

    private let clock: @Sendable () -> UInt64
    private let inputs = SeqLock(TeleopInput())
    /// The last sequence handed out; serialises posters (the seqlock has one writer at a time).
    private let poster = Mutex<UInt64>(0)
    private let timeoutNanoseconds: UInt64
    // Control thread only:
    private var latest = TeleopInput()
    private var stats = TeleopStatistics()
    private var lastRefusedSequence: UInt64 = 0
    private var acting = false
    private var lastActionTime = 0.0
    /// The reference r and its speed ṙ.
    private var reference: TeleopReference
    private var controller: JointPDController
    private var command: JointCommand
    private var state: JointState

    /// How far inside its limits a target is kept (`TeleopReference.limitMargin`).
    public static var limitMargin: Double { TeleopReference.limitMargin }

    /// - Parameters:
    ///   - controller: the PD + gravity law a torque (or velocity) arm tracks the reference with
    ///     (its gains; the source makes its own workspace).
    ///   - limits: the loop's limiter bounds (positions clamp targets; velocities cap the step).
    ///   - actionKind: the loop's command mode.
    ///   - clock: now (ns), the clock posts are stamped with; called once per tick and per post.
    /// - Warning: Not real-time safe (allocates).
    public init(controller: JointPDController, limits: JointLimits, actionKind: CommandMode,
                configuration: Configuration = Configuration(), clock: @escaping @Sendable () -> UInt64) {
        let n = limits.dof
        precondition(n == controller.model.dof && n <= transitionMaxJoints, "one limit per joint, at most \(transitionMaxJoints)")
        precondition(configuration.timeout > 0 && configuration.maxVelocity > 0 && configuration.maxAcceleration > 0 && configuration.period > 0,
                     "positive timeout, velocity, acceleration and period")
        dof = n
        self.actionKind = actionKind
        self.configuration = configuration
        self.limits = limits
        // A controller of its own: a copy of the caller's would share its workspace's buffers with
        // the loop's controllers, and the first tick that writes them would copy (allocate).
        self.controller = JointPDController(model: controller.model, kp: controller.kp, kd: controller.kd,
                                            gravityCompensation: controller.gravityCompensation)
        self.clock = clock
        timeoutNanoseconds = UInt64(min(configuration.timeout, 1e6) * 1e9)
        reference = TeleopReference(limits: limits, maxVelocity: configuration.maxVelocity, maxAcceleration: configuration.maxAcceleration,
                                    period: configuration.period)
        command = JointCommand(mode: actionKind, dof: n)
        state = JointState(dof: n)
    }

    /// Posts a joint target (dof values) for the tick, stamped with the clock now.
    /// Shape only: the caller refuses non-finite or out-of-limit values first (the tick clamps
    /// and ignores them again, as a second line).
    /// - Returns: the input's sequence number.
    /// - Note: Any non-real-time thread; never blocks the tick.
    @discardableResult
    public func post(_ q: [Double]) -> UInt64 {
        precondition(q.count == dof, "target has \(q.count) values, the source \(dof) joints")
        return poster.withLock { sequence in
            sequence &+= 1
            var input = TeleopInput()
            input.sequence = sequence
            input.postedAt = clock()
            for i in 0 ..< dof { input.q[i] = q[i] }
            inputs.write(input)
            return sequence
        }
    }

    /// The newest posted input (any thread).
    public var newestInput: TeleopInput { inputs.read() }

    /// The clock the source stamps and ages inputs with (ns).
    public func now() -> UInt64 { clock() }

    /// - Note: Real-time safe: no allocation, no locks, no syscalls but the injected clock's.
    public func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool {
        let now = clock()
        if let input = inputs.tryRead() { latest = input }
        guard latest.sequence != 0, now <= latest.postedAt || now - latest.postedAt <= timeoutNanoseconds else {
            return stop()
        }
        for i in 0 ..< dof where !latest.q[i].isFinite {
            if lastRefusedSequence != latest.sequence {
                lastRefusedSequence = latest.sequence
                stats.refused &+= 1
                statistics.write(stats)
            }
            return stop()
        }
        var changed = false
        if latest.sequence != stats.newestSequence {
            stats.newestSequence = latest.sequence
            stats.newestPostedAt = latest.postedAt
            stats.latency.record(now > latest.postedAt ? now - latest.postedAt : 0)
            changed = true
        }
        let engaged = acting && observation.time - lastActionTime <= 1.5 * configuration.period
        let target = latest.q
        reference.step(toward: { target[$0] }, measured: observation, engage: !engaged)
        if actionKind == .position {
            for i in 0 ..< dof { action[i] = reference.position[i] }
        } else {
            for i in 0 ..< dof {
                state.position[i] = observation.position[i]
                state.velocity[i] = observation.velocity[i]
                state.effort[i] = observation.effort[i]
            }
            controller.compute(&command, desiredPosition: reference.position, desiredVelocity: reference.velocity, state: state)
            for i in 0 ..< dof { action[i] = command.values[i] }
        }
        lastActionTime = observation.time
        if !acting {
            acting = true
            stats.acting = true
            changed = true
        }
        if changed { statistics.write(stats) }
        return true
    }

    /// No action this tick.
    private func stop() -> Bool {
        if acting {
            acting = false
            stats.acting = false
            statistics.write(stats)
        }
        return false
    }
}

/// A teleop source's reference r: where the arm is commanded on its way to the operator's newest
/// target (streamed, or a leader arm's pose). Per tick, towards target q*:
/// - engage (the first action, or the first after a tick without one): r starts at the measured q,
///   so entering the mode, a resumed stream or a takeover never jumps;
/// - r_i ← r_i + clamp(clamp(q*_i, lower_i + m_i, upper_i − m_i) − r_i, ±s_i), the per-tick step
///   limit s_i = min(maxVelocity, v_max,i) · period (m_i = min(`limitMargin`, range_i / 4): a target
///   at a limit never parks the joint on it, which would fault the loop); within that, r's speed
///   ṙ changes by at most a · period per tick and follows the braking curve √(2 a |e|) (a =
///   maxAcceleration, e = target − r), so r starts and stops smoothly.
public struct TeleopReference {
    public let dof: Int
    public let period: Double
    public let maxAcceleration: Double
    /// r and ṙ (dof each).
    public private(set) var position: [Double]
    public private(set) var velocity: [Double]
    private var previous: [Double]
    /// Per-tick step s_i and the clamp bounds [lower + m, upper − m] (dof each).
    private let maxStep: [Double]
    private let lowerTarget: [Double]
    private let upperTarget: [Double]

    /// How far inside its limits a target is kept (rad or m; at most a quarter of the range): a
    /// torque arm's tracking error (gravity, the other joints' motion) must not reach the limit
    /// when the reference stops at the target, or the loop faults.
    public static var limitMargin: Double { 0.05 }

    /// - Warning: Not real-time safe (allocates).
    public init(limits: JointLimits, maxVelocity: Double, maxAcceleration: Double, period: Double) {
        let n = limits.dof
        dof = n
        self.period = period
        self.maxAcceleration = maxAcceleration
        // Three buffers, not copies of one: a shared buffer would be copied on the tick's first write.
        position = Array(repeating: 0, count: n)
        velocity = Array(repeating: 0, count: n)
        previous = Array(repeating: 0, count: n)
        maxStep = (0 ..< n).map { min(maxVelocity, limits.velocity[$0]) * period }
        let margins = (0 ..< n).map { min(Self.limitMargin, 0.25 * (limits.upper[$0] - limits.lower[$0])) }
        lowerTarget = (0 ..< n).map { limits.lower[$0] + margins[$0] }
        upperTarget = (0 ..< n).map { limits.upper[$0] - margins[$0] }
    }

    /// One tick towards `target(i)` (finite values), from the measured pose when `engage`.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func step(toward target: (Int) -> Double, measured observation: borrowing PolicyObservation, engage: Bool) {
        let dv = maxAcceleration * period
        for i in 0 ..< dof {
            if engage {
                position[i] = observation.position[i]
                velocity[i] = 0
            }
            previous[i] = position[i]
            let e = min(max(target(i), lowerTarget[i]), upperTarget[i]) - position[i]
            let speed = min(maxStep[i], (2 * maxAcceleration * abs(e)).squareRoot() * period, abs(e))
            let step = min(max(e < 0 ? -speed : speed, velocity[i] * period - dv * period), velocity[i] * period + dv * period)
            position[i] = min(max(position[i] + step, lowerTarget[i]), upperTarget[i])
            velocity[i] = (position[i] - previous[i]) / period
        }
    }
}
