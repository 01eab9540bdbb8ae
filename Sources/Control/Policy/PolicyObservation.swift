/// What a policy sees in one tick. The tick owns one, sized once (`init(dof:)`), and overwrites
/// it in place every tick before calling `Policy.action(into:observation:)`.
public struct PolicyObservation: Sendable {
    /// Optional parts, filled only for policies that read them.
    public struct Needs: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `endEffectorPosition` (forward kinematics of the measured state).
        public static let endEffectorPosition = Needs(rawValue: 1 << 0)
        /// `target` (the newest target set from the socket).
        public static let target = Needs(rawValue: 1 << 1)
    }

    /// Loop time of the tick (s).
    public var time: Double = 0
    /// Measured joint positions (rad or m), velocities (rad/s or m/s), efforts (N·m or N): dof
    /// values each, from the tick's fresh state.
    public var position: [Double]
    public var velocity: [Double]
    public var effort: [Double]
    /// The measured end-effector position (m, base frame); valid when `.endEffectorPosition` is needed.
    public var endEffectorPosition = SIMD3<Double>()
    /// The newest target; valid when `.target` is needed.
    public var target = PolicyTarget()

    /// - Warning: Not real-time safe (allocates the buffers).
    public init(dof: Int) {
        position = Array(repeating: 0, count: dof)
        velocity = Array(repeating: 0, count: dof)
        effort = Array(repeating: 0, count: dof)
    }

    public var dof: Int { position.count }
}
