import Learning

/// The planner's dynamics: the rigid-body model, or — once the learner has published one — the
/// rigid-body model plus a learned residual. The learned part lives in a box that the planning
/// thread swaps between solves (`install`), so one solver (and its warm start) survives model
/// updates.
public struct SwitchableDynamics: DynamicsModel {
    /// Touched only by the thread that runs the solver.
    public final class Box: @unchecked Sendable {
        public private(set) var learned: ResidualDynamics<RigidBodyDynamics>?
        var workspace: ResidualDynamics<RigidBodyDynamics>.Workspace?
        public private(set) var version = 0
        /// While true the solver plans with the rigid-body model although a learned one is
        /// installed (it still answers `disagreement`): the planner's fallback when the learned
        /// model's plan leaves the data it was trained on.
        public var suspended = false

        /// The learned model the solver steps with now (nil when none or suspended).
        @inline(__always)
        public var active: ResidualDynamics<RigidBodyDynamics>? { suspended ? nil : learned }

        public init() {}

        /// The learned model's disagreement at (x, u); 0 without one.
        public func disagreement(x: UnsafePointer<Double>, u: UnsafePointer<Double>) -> Double {
            guard let learned, workspace != nil else { return 0 }
            return learned.disagreement(&workspace!, x: x, u: u)
        }

        /// The learned model's disagreement at (x, u) and its gradient (nx + nu values; untouched
        /// and 0 returned without a model).
        public func disagreementGradient(x: UnsafePointer<Double>, u: UnsafePointer<Double>, gradient: UnsafeMutablePointer<Double>) -> Double {
            guard let learned, workspace != nil else { return 0 }
            return learned.disagreementGradient(&workspace!, x: x, u: u, gradient: gradient)
        }

        /// - Warning: Not real-time safe (allocates the model's workspace).
        public func install(_ model: ResidualDynamics<RigidBodyDynamics>?, version: Int) {
            learned = model
            workspace = model?.makeWorkspace()
            self.version = version
            suspended = false
        }
    }

    public let nominal: RigidBodyDynamics
    public let box: Box

    public init(nominal: RigidBodyDynamics, box: Box = Box()) {
        self.nominal = nominal
        self.box = box
    }

    public var stateDimension: Int { nominal.stateDimension }
    public var controlDimension: Int { nominal.controlDimension }
    public var dt: Double { nominal.dt }
    public func makeWorkspace() -> RigidBodyDynamics.Workspace { nominal.makeWorkspace() }

    public func step(_ ws: inout RigidBodyDynamics.Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>,
                     next: UnsafeMutablePointer<Double>) -> Bool {
        if let learned = box.active, box.workspace != nil { return learned.step(&box.workspace!, x: x, u: u, next: next) }
        return nominal.step(&ws, x: x, u: u, next: next)
    }

    public func linearize(_ ws: inout RigidBodyDynamics.Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>,
                          next: UnsafeMutablePointer<Double>, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        if let learned = box.active, box.workspace != nil {
            return learned.linearize(&box.workspace!, x: x, u: u, next: next, fx: fx, fu: fu)
        }
        return nominal.linearize(&ws, x: x, u: u, next: next, fx: fx, fu: fu)
    }
}
