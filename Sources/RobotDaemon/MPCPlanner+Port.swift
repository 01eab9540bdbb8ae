import ControlPorts
import ControlProtocol
import LinearAlgebra
import Planning

/// The planner as the control socket's `TargetPlanner`: protocol targets in, a typed status out
/// (the server encodes it).
extension MPCPlanner: TargetPlanner {
    public func setTarget(_ request: TargetSetParams) throws {
        let duration = request.duration
        switch request.target {
        case let .pose(p, orientation):
            try setTarget(MPCPlanner.Target.pose(position: Vector3(p[0], p[1], p[2]), orientation: orientation), duration: duration)
        case let .joints(q):
            try setTarget(MPCPlanner.Target.joints(q), duration: duration)
        case let .path(waypoints, period):
            try setTarget(MPCPlanner.Target.path(ReferencePath(waypoints: waypoints.map { Vector3($0[0], $0[1], $0[2]) }, period: period)), duration: nil)
        }
    }

    public func status(loopTime: Double) -> PlannerStatus {
        let s = statistics
        let target: PlannerStatus.Target? = switch s.target {
        case let .pose(p, o)?: .pose(position: [p.x, p.y, p.z], orientation: o)
        case let .joints(q)?: .joints(q)
        case let .path(path)?: .path(waypoints: path.waypoints.map { [$0.x, $0.y, $0.z] }, period: path.period)
        case nil: nil
        }
        return PlannerStatus(
            target: target, solves: Int(clamping: s.solves), solveMs: s.lastSolveMs, maxSolveMs: s.maxSolveMs, iterations: Int(clamping: s.lastIterations),
            cost: s.lastCost, status: s.lastStatus,
            planAgeMs: s.solves == 0 || s.target == nil ? nil : (loopTime - s.planT0) * 1000,
            predictedErrorM: s.predictedTerminalError, reachM: reach, rateHz: configuration.rateHz, horizon: configuration.horizon,
            dt: configuration.dt, modelVersion: modelVersion, disagreement: s.disagreement, uncertainPlans: Int(clamping: s.uncertainPlans),
            fallbackPlans: Int(clamping: s.fallbackPlans), planningModel: s.planningModel, disagreementLimit: s.disagreementLimit)
    }
}
