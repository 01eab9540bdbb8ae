import Control
import ControlRuntime
import RobotInterface
import ServoProtocol

/// A leader arm as the source of `teleop` (issue 16; LeRobot's SO-101 leader → SO-101 follower,
/// Koch leader → Koch follower): a second servo bus whose servos stay limp while a person moves
/// them, read by its own `ServoArmDriver` I/O thread at the bus rate. The tick reads the leader's
/// newest sample exactly as it reads the follower's (a seqlocked slot: no waiting, no allocation)
/// and commands the follower's joints to it.
///
/// Joint mapping "through both calibrations": each arm's calibration puts q = 0 at the pose the
/// person set as the middle of every joint, so a body joint's angle carries over unchanged
/// (`Mapping.direct`); the leader's gripper is a handle whose travel differs from the follower's
/// jaw, so it maps by the fraction of its calibrated range (`Mapping.range`), as LeRobot maps
/// grippers in its 0–100 range mode.
///
/// Freshness: the bus thread stamps each sample with CLOCK_MONOTONIC, the clock the tick reads
/// (`clock`), so a sample older than `timeout` (a stalled or unplugged leader bus), an invalid or
/// non-finite one, or a driver fault gives no action, and the loop holds the follower where it is.
/// `statistics` (any thread) reports the newest sample used, the latency from its bus read to the
/// first tick that commanded it, and whether the source is acting, as a streamed source does.
///
/// Continuity as for streamed targets (`TeleopReference`): the follower's goal is a reference that
/// starts at the measured pose when the source engages (entering `teleop`, a takeover, the leader
/// back after a pause) and moves towards the leader's pose with a per-tick step limit and bounded
/// acceleration, so a leader far from the follower never makes it jump or slew at full speed.
///
/// The leader's torque is never enabled: `connect` and `configure` write settings with torque
/// off, and nothing here activates it.
public final class LeaderArmSource: Policy, @unchecked Sendable {
    /// How a leader joint's angle becomes the follower's goal.
    public enum Mapping: Sendable, Equatable {
        /// q_follower = q_leader.
        case direct
        /// The leader's position as a fraction of [leaderLower, leaderUpper] (clamped to 0…1) is
        /// that fraction of [followerLower, followerUpper].
        case range(leaderLower: Double, leaderUpper: Double, followerLower: Double, followerUpper: Double)

        /// - Note: Real-time safe.
        @inline(__always)
        public func map(_ q: Double) -> Double {
            switch self {
            case .direct: return q
            case let .range(l0, l1, f0, f1):
                let s = min(max((q - l0) / (l1 - l0), 0), 1)
                return f0 + s * (f1 - f0)
            }
        }
    }

    public let name: String
    public let dof: Int
    public var actionKind: CommandMode { .position }
    public var needs: PolicyObservation.Needs { [] }
    public var isOperatedByPerson: Bool { true }

    public let driver: ServoArmDriver
    public let mappings: [Mapping]
    /// Seconds of loop time without a new leader sample before the source has no action.
    public let timeout: Double

    /// What the tick reports (`TeleopStatistics`: sequence = samples used, postedAt = the newest
    /// sample's bus timestamp, refused = non-finite samples).
    public let statistics = SeqLock(TeleopStatistics())

    private let clock: @Sendable () -> UInt64
    private let timeoutNanoseconds: UInt64
    private var sample: JointState
    private var stats = TeleopStatistics()
    /// The follower's reference and the leader's mapped pose (control thread).
    private var reference: TeleopReference
    private var goals: [Double]
    private var lastActionTime = 0.0

    /// - Parameters:
    ///   - driver: the leader's driver, connected and configured (its I/O thread running), never
    ///     activated.
    ///   - mappings: one per joint, in the follower's joint order (the leader's must match).
    ///   - clock: now (ns) on CLOCK_MONOTONIC, the bus thread's stamping clock (tests may skew it).
    ///   - limits: the follower's limiter bounds; `maxVelocity`, `maxAcceleration` and `period` shape
    ///     the reference (`teleop.max_velocity`, `teleop.max_acceleration`, the loop's period).
    public init(driver: ServoArmDriver, mappings: [Mapping], timeout: Double, limits: JointLimits, maxVelocity: Double,
                maxAcceleration: Double, period: Double, clock: @escaping @Sendable () -> UInt64) {
        precondition(mappings.count == driver.options.dof && limits.dof == driver.options.dof, "one mapping and one limit per leader joint")
        precondition(timeout > 0, "a positive timeout")
        self.driver = driver
        self.mappings = mappings
        self.timeout = timeout
        self.clock = clock
        timeoutNanoseconds = UInt64(timeout * 1e9)
        dof = driver.options.dof
        name = "leader \(driver.options.robotName) on \(driver.options.port)"
        sample = JointState(dof: driver.options.dof)
        reference = TeleopReference(limits: limits, maxVelocity: maxVelocity, maxAcceleration: maxAcceleration, period: period)
        goals = Array(repeating: 0, count: driver.options.dof)
    }

    /// The mappings for a leader and a follower of the same arm family: `direct` for every joint
    /// but those in `rangeMapped` (by name; the gripper by default), which map the leader's
    /// calibrated range onto the follower's limits.
    /// - Throws: `LeaderArmError` when the joints differ (count or names, in order) or a range is empty.
    public static func mappings(leader: ArmCalibration, leaderJointNames: [String], followerJointNames: [String],
                                followerLower: [Double], followerUpper: [Double],
                                rangeMapped: Set<String> = ["gripper"]) throws(LeaderArmError) -> [Mapping] {
        guard leaderJointNames == followerJointNames else {
            throw LeaderArmError(description: "the leader's joints (\(leaderJointNames.joined(separator: ", "))) are not the follower's (\(followerJointNames.joined(separator: ", "))), in order")
        }
        var out: [Mapping] = []
        for (i, joint) in followerJointNames.enumerated() {
            guard rangeMapped.contains(joint) else { out.append(.direct); continue }
            let r = leader.positionRange(joint: i)
            guard r.upper > r.lower, followerUpper[i] > followerLower[i] else {
                throw LeaderArmError(description: "\(joint): the leader's calibrated range [\(r.lower), \(r.upper)] rad or the follower's [\(followerLower[i]), \(followerUpper[i])] rad is empty")
            }
            out.append(.range(leaderLower: r.lower, leaderUpper: r.upper, followerLower: followerLower[i], followerUpper: followerUpper[i]))
        }
        return out
    }

    /// - Note: Real-time safe: the driver's read is a seqlocked copy, the clock a vDSO read; no
    ///   allocation, no locks.
    public func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool {
        let acted = goals.withUnsafeMutableBufferPointer { leaderGoals(into: $0) }
        if acted {
            let engaged = stats.acting && observation.time - lastActionTime <= 1.5 * reference.period
            reference.step(toward: { goals[$0] }, measured: observation, engage: !engaged)
            for i in 0 ..< dof { action[i] = reference.position[i] }
            lastActionTime = observation.time
        }
        if acted != stats.acting {
            stats.acting = acted
            statistics.write(stats)
        }
        return acted
    }

    /// The leader's newest pose as the follower's goals (mapped, before the reference shapes
    /// them); false when the leader has no fresh, valid, finite sample.
    /// - Note: Real-time safe (the tick's read of the leader).
    public func leaderGoals(into action: UnsafeMutableBufferPointer<Double>) -> Bool {
        do {
            try driver.read(into: &sample)
        } catch {
            return false
        }
        guard sample.isValid else { return false }
        let now = clock(), stamp = sample.timestampNanoseconds
        guard stamp <= now ? now - stamp <= timeoutNanoseconds : true else { return false }
        for i in 0 ..< dof where !sample.position[i].isFinite {
            if stamp != stats.newestPostedAt {
                stats.newestPostedAt = stamp
                stats.refused &+= 1
                statistics.write(stats)
            }
            return false
        }
        if stamp != stats.newestPostedAt {
            stats.newestPostedAt = stamp
            stats.newestSequence &+= 1
            stats.latency.record(now > stamp ? now - stamp : 0)
            statistics.write(stats)
        }
        for i in 0 ..< dof { action[i] = mappings[i].map(sample.position[i]) }
        return true
    }

    /// The leader's newest joint positions as the follower's goals, from any thread (a seqlocked
    /// read of the bus thread's slot; nil while the leader has no valid sample): what a takeover
    /// watcher compares with where the leader rested.
    public func peekGoals() -> [Double]? {
        var state = JointState(dof: dof)
        guard let header = driver.slot.read(into: &state), header.isValid, header.fault == .none, state.isFinite else { return nil }
        return (0 ..< dof).map { mappings[$0].map(state.position[$0]) }
    }
}

/// Why a leader arm cannot be used, naming the joints or ranges.
public struct LeaderArmError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}
