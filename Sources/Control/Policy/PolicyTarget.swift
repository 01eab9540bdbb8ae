/// What a policy may be asked to reach (set from the socket, read by the tick), fixed-size so
/// that it moves through a seqlock without allocation.
public struct PolicyTarget: Sendable, BitwiseCopyable {
    /// Whether `joints` holds a joint target (rad or m, first dof entries).
    public var hasJoints = false
    public var joints = InlineArray<8, Double>(repeating: 0)
    /// Whether `position` holds an end-effector target (m, base frame).
    public var hasPosition = false
    public var position = InlineArray<3, Double>(repeating: 0)
    public init() {}
}
