import Control
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
/// Freshness: a sample is the leader's newest when its timestamp advanced; one that has not for
/// `timeout` seconds of loop time (a stalled or unplugged leader bus), an invalid or non-finite
/// one, or a driver fault gives no action, and the loop holds the follower where it is.
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

    private var sample: JointState
    private var newestStamp: UInt64 = 0
    private var hasStamp = false
    private var newestSeenAt = 0.0
    /// Loop time between the two newest leader samples (s): the leader's rate as the tick sees
    /// it (the leader bus's clock is not the loop's, so a sample's age cannot be measured).
    public private(set) var lastSampleInterval = 0.0

    /// - Parameters:
    ///   - driver: the leader's driver, connected and configured (its I/O thread running), never
    ///     activated.
    ///   - mappings: one per joint, in the follower's joint order (the leader's must match).
    public init(driver: ServoArmDriver, mappings: [Mapping], timeout: Double) {
        precondition(mappings.count == driver.options.dof, "one mapping per leader joint")
        precondition(timeout > 0, "a positive timeout")
        self.driver = driver
        self.mappings = mappings
        self.timeout = timeout
        dof = driver.options.dof
        name = "leader \(driver.options.robotName) on \(driver.options.port)"
        sample = JointState(dof: driver.options.dof)
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

    /// - Note: Real-time safe: the driver's read is a seqlocked copy; no allocation, no locks.
    public func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool {
        do {
            try driver.read(into: &sample)
        } catch {
            return false
        }
        guard sample.isValid else { return false }
        for i in 0 ..< dof where !sample.position[i].isFinite { return false }
        let time = observation.time
        if !hasStamp || sample.timestampNanoseconds > newestStamp {
            if hasStamp { lastSampleInterval = time - newestSeenAt }
            hasStamp = true
            newestStamp = sample.timestampNanoseconds
            newestSeenAt = time
        } else if sample.timestampNanoseconds < newestStamp || time - newestSeenAt > timeout {
            return false
        }
        for i in 0 ..< dof { action[i] = mappings[i].map(sample.position[i]) }
        return true
    }
}

/// Why a leader arm cannot be used, naming the joints or ranges.
public struct LeaderArmError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}
