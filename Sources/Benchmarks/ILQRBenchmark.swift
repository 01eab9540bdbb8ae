import Foundation
import LinearAlgebra
import Planning
import Platform
import RigidBody

/// `robotd bench ilqr --problem PATH --json`: solves a reaching problem described in JSON (see
/// hardware/robots/sim6/reach.json and the README) and reports cost, accuracy and time.
///
/// Running node k < T costs dt·(½w_f‖p(q_k) − p*‖² + ½w_x‖x_k − x0‖² + ½w_u‖u_k‖²), the terminal
/// node ½w_T‖p(q_T) − p*‖²; dynamics: ABA (with the URDF's armature, no damping or friction),
/// semi-implicit Euler. init "zero" starts from xs = 0, us = 0 (an infeasible iterate whose gaps
/// the solver closes, as FDDP does), "x0_gravity" from xs = x0, us = gravity torque at q0 (rolled
/// out). With `mpc` N, re-solves N consecutive steps warm-started with 1 and 3 iterations and
/// reports per-step times.
public enum ILQRBenchmark {
    /// The problem file's contents (keys as in hardware/robots/sim6/reach.json).
    public struct Problem: Sendable {
        public var urdf: String
        public var frame: String
        public var dt: Double
        public var horizon: Int
        public var q0: [Double]
        public var v0: [Double]
        public var target: [Double]
        /// The problem's four weights: running frame, state and control, terminal frame.
        public var weights: (runningFrame: Double, runningState: Double, runningControl: Double, terminalFrame: Double)
        public var torqueLimits: Bool
        public var maxIterations: Int
        public var tolerance: Double
        public var repeats: Int
        public var initZero: Bool
    }

    /// Reads the problem file at `path`.
    /// - Throws: `BenchmarkError` naming the file and the key that is missing or malformed.
    public static func parse(_ path: String) throws -> Problem {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw BenchmarkError("\(path): cannot read: \(error.localizedDescription)")
        }
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchmarkError("\(path): not a JSON object")
        }
        func value<T>(_ key: String, _ type: T.Type) throws -> T {
            guard let v = o[key] as? T else { throw BenchmarkError("\(path): \"\(key)\" is missing or not a \(T.self)") }
            return v
        }
        func numbers(_ key: String, count: Int?) throws -> [Double] {
            guard let a = o[key] as? [NSNumber] else { throw BenchmarkError("\(path): \"\(key)\" must be an array of numbers") }
            if let count, a.count != count { throw BenchmarkError("\(path): \"\(key)\" has \(a.count) values, expected \(count)") }
            return a.map(\.doubleValue)
        }
        let w = try value("weights", [String: Any].self)
        func weight(_ key: String) throws -> Double {
            guard let x = w[key] as? NSNumber else { throw BenchmarkError("\(path): \"weights.\(key)\" is missing or not a number") }
            return x.doubleValue
        }
        let weights = (runningFrame: try weight("running_frame"), runningState: try weight("running_state"),
                       runningControl: try weight("running_control"), terminalFrame: try weight("terminal_frame"))
        let initName = (o["init"] as? String) ?? "zero"
        guard ["zero", "x0_gravity"].contains(initName) else { throw BenchmarkError("\(path): \"init\" must be \"zero\" or \"x0_gravity\"") }
        let q0 = try numbers("q0", count: nil)
        return Problem(
            urdf: try value("urdf", String.self), frame: try value("frame", String.self),
            dt: try value("dt", NSNumber.self).doubleValue, horizon: try value("horizon", NSNumber.self).intValue,
            q0: q0, v0: try numbers("v0", count: q0.count), target: try numbers("target", count: 3), weights: weights,
            torqueLimits: (o["torque_limits"] as? Bool) ?? false, maxIterations: (o["max_iterations"] as? NSNumber)?.intValue ?? 200,
            tolerance: (o["tolerance"] as? NSNumber)?.doubleValue ?? 1e-9, repeats: (o["repeat"] as? NSNumber)?.intValue ?? 1,
            initZero: initName == "zero"
        )
    }

    /// Solves `p` `p.repeats` times on the robot `loadModel` reads from `p.urdf`, then `mpc`
    /// warm-started MPC steps when given; returns the JSON object the command prints.
    /// - Throws: `BenchmarkError` when the problem does not fit the robot; what `loadModel` throws.
    public static func run(_ p: Problem, mpc: Int?, loadModel: (String) throws -> RobotModel) throws -> [String: Any] {
        guard p.horizon >= 1, p.dt > 0, p.repeats >= 1 else { throw BenchmarkError("horizon, dt and repeat must be positive") }
        let model = try loadModel(p.urdf)
        guard p.q0.count == model.dof else { throw BenchmarkError("q0 has \(p.q0.count) values; \(model.name) has \(model.dof) joints") }
        guard let frame = model.frameIndex(named: p.frame) else { throw BenchmarkError("no frame named \"\(p.frame)\"") }
        let x0 = p.q0 + p.v0
        let target = Vector3(p.target[0], p.target[1], p.target[2])
        let w = p.weights
        let cost = CostModelSum(model: model, frame: frame, dt: p.dt, terms: [
            CostTerm("frame_translation", .frameTranslation, running: w.runningFrame, terminal: w.terminalFrame),
            CostTerm("state", .state, running: w.runningState),
            CostTerm("control", .control, running: w.runningControl),
        ], frameTarget: target, stateReference: x0)
        var options = ILQRSolver<RigidBodyDynamics, CostModelSum>.Options()
        options.maxIterations = p.maxIterations
        options.tolerance = p.tolerance
        if p.torqueLimits {
            options.bounds = .symmetric(model.joints.map(\.effortLimit))
        }
        let solver = ILQRSolver(dynamics: RigidBodyDynamics(model: model, dt: p.dt), cost: cost, horizon: p.horizon, options: options)
        var ws = model.makeWorkspace()
        model.rnea(&ws, q: p.q0, v: Array(repeating: 0, count: model.dof), a: Array(repeating: 0, count: model.dof))
        let initial = p.initZero ? Array(repeating: 0.0, count: p.horizon * model.dof) : (0 ..< p.horizon).flatMap { _ in ws.tau }

        var times: [Double] = []
        var last: ILQRSolver<RigidBodyDynamics, CostModelSum>.Result?
        for _ in 0 ..< p.repeats {
            solver.setControls(initial)
            // "zero" is the all-zero iterate, states included (infeasible; the gaps close as the
            // solver goes), as Crocoddyl's FDDP starts from it.
            if p.initZero { solver.setStates(Array(repeating: 0, count: (p.horizon + 1) * 2 * model.dof)) }
            let r = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, now: MonotonicClock.now) }
            times.append(Double(r.nanoseconds) / 1e6)
            last = r
        }
        let r = last!
        let xs = solver.states
        let n = model.dof, nx = 2 * n
        model.forwardKinematics(&ws, q: Array(xs[(p.horizon * nx) ..< (p.horizon * nx + n)]))
        let e = model.framePose(ws, frame: frame).translation - target
        let sorted = times.sorted()
        var out: [String: Any] = [
            "robot": model.name, "horizon": p.horizon, "iterations": r.iterations, "converged": r.status == .converged,
            "status": r.status.rawValue, "final_cost": r.cost, "initial_cost": r.initialCost, "ee_error_m": e.dot(e).squareRoot(),
            "solve_ms": ["median": sorted[sorted.count / 2], "min": sorted.first!, "max": sorted.last!],
            "ms_per_iteration": sorted[sorted.count / 2] / Double(max(1, r.iterations)),
            "derivatives_ms": Double(r.derivativeNanoseconds) / 1e6, "u0": Array(solver.controls.prefix(n)),
            "repeat": p.repeats,
        ]
        if let steps = mpc {
            out["mpc"] = [
                "steps": steps,
                "iterations_1": mpcRun(solver: solver, model: model, x0: x0, initial: initial, steps: steps, iterations: 1),
                "iterations_3": mpcRun(solver: solver, model: model, x0: x0, initial: initial, steps: steps, iterations: 3),
            ]
        }
        return out
    }

    /// Receding horizon on the model itself: solve, apply u₀ for one dt, shift, re-solve.
    static func mpcRun(solver: ILQRSolver<RigidBodyDynamics, CostModelSum>, model: RobotModel, x0: [Double], initial: [Double],
                steps: Int, iterations: Int) -> [String: Any] {
        solver.setControls(initial)
        var x = x0
        _ = x.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!) }
        let dynamics = solver.dynamics
        var dws = dynamics.makeWorkspace()
        var u = [Double](repeating: 0, count: model.dof), next = [Double](repeating: 0, count: x.count)
        var times: [Double] = []
        var costs: [Double] = []
        for _ in 0 ..< steps {
            u.withUnsafeMutableBufferPointer { solver.control(0, into: $0.baseAddress!) }
            _ = dynamics.step(&dws, x: x, u: u, next: &next)
            x = next
            solver.shift(by: 1)
            let r = x.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: iterations, now: MonotonicClock.now) }
            times.append(Double(r.nanoseconds) / 1e6)
            costs.append(r.cost)
        }
        let s = times.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, Int((p * Double(s.count)).rounded(.up)) - 1)] }
        return ["step_ms": ["p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s.last!], "final_cost": costs.last ?? 0]
    }
}
