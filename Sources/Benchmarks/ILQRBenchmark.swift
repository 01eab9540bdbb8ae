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
/// reports per-step times. With the anchor, Crocoddyl 3.2.1's FDDP solves the same problem side
/// by side (Benchmarks/anchors/crocoddyl_reach.py) and the report gives the time ratio.
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
        /// The file it was read from (the anchor reads the same file); nil when built in code.
        public var path: String? = nil
        /// The build of the backward pass's kernels (`ILQRSolver.Options.kernelBuild`); nil = the
        /// solver's default.
        public var kernelBuild: Int? = nil
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
            initZero: initName == "zero", path: path
        )
    }

    /// The initial guess's name as the problem file and the anchor spell it.
    static func initName(_ p: Problem) -> String { p.initZero ? "zero" : "x0_gravity" }

    /// One case's solver, built once and re-solved from the same start.
    struct Case {
        let model: RobotModel
        let frame: Int
        let target: Vector3
        let x0: [Double]
        let initial: [Double]
        let solver: ILQRSolver<RigidBodyDynamics, CostModelSum>
    }

    static func makeCase(_ p: Problem, loadModel: (String) throws -> RobotModel) throws -> Case {
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
        options.kernelBuild = p.kernelBuild
        if p.torqueLimits {
            options.bounds = .symmetric(model.joints.map(\.effortLimit))
        }
        let solver = ILQRSolver(dynamics: RigidBodyDynamics(model: model, dt: p.dt), cost: cost, horizon: p.horizon, options: options)
        var ws = model.makeWorkspace()
        model.rnea(&ws, q: p.q0, v: Array(repeating: 0, count: model.dof), a: Array(repeating: 0, count: model.dof))
        let initial = p.initZero ? Array(repeating: 0.0, count: p.horizon * model.dof) : (0 ..< p.horizon).flatMap { _ in ws.tau }
        return Case(model: model, frame: frame, target: target, x0: x0, initial: initial, solver: solver)
    }

    /// `count` solves of `c` from its initial guess: the solve times (ms) and the last result;
    /// each solve's split (derivatives, backward pass, line search; ms) appended to `phases`.
    static func solves(_ c: Case, _ p: Problem, count: Int,
                       phases: inout [[Double]]) -> ([Double], ILQRSolver<RigidBodyDynamics, CostModelSum>.Result) {
        var times: [Double] = []
        var last: ILQRSolver<RigidBodyDynamics, CostModelSum>.Result?
        for _ in 0 ..< count {
            c.solver.setControls(c.initial)
            // "zero" is the all-zero iterate, states included (infeasible; the gaps close as the
            // solver goes), as Crocoddyl's FDDP starts from it.
            if p.initZero { c.solver.setStates(Array(repeating: 0, count: (p.horizon + 1) * 2 * c.model.dof)) }
            let r = c.x0.withUnsafeBufferPointer { c.solver.solve(from: $0.baseAddress!, now: MonotonicClock.now) }
            times.append(Double(r.nanoseconds) / 1e6)
            phases.append([r.derivativeNanoseconds, r.backwardPassNanoseconds, r.lineSearchNanoseconds].map { Double($0) / 1e6 })
            last = r
        }
        return (times, last!)
    }

    static func median(_ a: [Double]) -> Double {
        let s = a.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }

    /// Runs the Crocoddyl anchor (Benchmarks/anchors/crocoddyl_reach.py) on the problem file of
    /// `p` with its horizon, initial guess and repeat count: FDDP, one thread, `p.repeats` timed
    /// solves in one process.
    static func runAnchor(_ p: Problem) -> Anchor.Outcome {
        guard let python = Anchor.python() else { return .unavailable("python3 is not on PATH") }
        guard let script = Anchor.file("crocoddyl_reach.py") else {
            return .unavailable("Benchmarks/anchors/crocoddyl_reach.py not found (set ROBOTD_ANCHORS)")
        }
        guard let path = p.path else { return .unavailable("the problem was not read from a file") }
        return Anchor.run(python, [script, path, "--horizon", String(p.horizon), "--init", initName(p), "--repeat", String(p.repeats),
                                   "--threads", "1"],
                          environment: ["OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"])
    }

    /// Solves `p` `p.repeats` times per round on the robot `loadModel` reads from `p.urdf` (after
    /// one untimed solve), and with `anchor`, after each round's solves, Crocoddyl's FDDP on the
    /// same problem as many times in its own process (ours, anchor, ours, anchor…: a ratio that
    /// a slow patch of a noisy machine skews only for the round it falls in). Solve times pool
    /// over the rounds. Then `mpc` warm-started MPC steps when given. Returns the JSON object the
    /// command prints: ours at the top level, Crocoddyl's figures under "anchor",
    /// "time_ratio_to_anchor" {"median", "min", "rounds": per-round median ratios} (ours/anchor,
    /// < 1 = robotd faster), and whether both reached the same optimum (relative cost difference
    /// within `sameCostTolerance`) in the same number of iterations.
    /// - Throws: `BenchmarkError` when the problem does not fit the robot; what `loadModel` throws.
    public static func run(_ p: Problem, mpc: Int?, anchor: Bool = false, rounds: Int = 1,
                           loadModel: (String) throws -> RobotModel) throws -> [String: Any] {
        guard rounds >= 1 else { throw BenchmarkError("rounds must be positive") }
        let c = try makeCase(p, loadModel: loadModel)
        var phases: [[Double]] = []
        _ = solves(c, p, count: 1, phases: &phases)
        phases = []
        var times: [Double] = [], anchorTimes: [Double] = [], roundRatios: [Double] = []
        var anchorOutcome: Anchor.Outcome?
        var r: ILQRSolver<RigidBodyDynamics, CostModelSum>.Result?
        for _ in 0 ..< rounds {
            let (t, last) = solves(c, p, count: p.repeats, phases: &phases)
            times += t
            r = last
            guard anchor else { continue }
            let outcome = runAnchor(p)
            anchorOutcome = outcome
            guard case .ran(let figures) = outcome else { break }
            let a = (figures["solve_ms_all"] as? [NSNumber])?.map(\.doubleValue) ?? []
            anchorTimes += a
            if !a.isEmpty, let ratio = Anchor.ratio(median(t), median(a)) { roundRatios.append(ratio) }
        }
        let result = r!
        let solver = c.solver, model = c.model
        let xs = solver.states
        let n = model.dof, nx = 2 * n
        var ws = model.makeWorkspace()
        model.forwardKinematics(&ws, q: Array(xs[(p.horizon * nx) ..< (p.horizon * nx + n)]))
        let e = model.framePose(ws, frame: c.frame).translation - c.target
        let sorted = times.sorted()
        var out: [String: Any] = [
            "robot": model.name, "horizon": p.horizon, "init": initName(p), "iterations": result.iterations,
            "converged": result.status == .converged, "status": result.status.rawValue, "final_cost": result.cost,
            "initial_cost": result.initialCost, "ee_error_m": e.dot(e).squareRoot(),
            "solve_ms": ["median": median(times), "min": sorted.first!, "max": sorted.last!],
            "ms_per_iteration": median(times) / Double(max(1, result.iterations)),
            "derivatives_ms": Double(result.derivativeNanoseconds) / 1e6, "u0": Array(solver.controls.prefix(n)),
            "repeat": p.repeats, "rounds": rounds, "kernel_build": solver.kernelBuild,
            // Where a solve's time goes, medians over the solves (derivatives: dynamics and cost
            // linearised along the trajectory; backward pass: Riccati recursion and gains; line
            // search: rollouts of the new policy; the rest: the first rollout, bookkeeping).
            "phase_ms": [
                "derivatives": median(phases.map { $0[0] }), "backward_pass": median(phases.map { $0[1] }),
                "line_search": median(phases.map { $0[2] }),
            ],
        ]
        if anchor, let anchorOutcome {
            var entry = Anchor.report(name: "crocoddyl", anchorOutcome)
            if case .ran(var figures) = anchorOutcome, !anchorTimes.isEmpty {
                figures["solve_ms_all"] = nil
                let anchorMedian = median(anchorTimes), anchorMin = anchorTimes.min()!
                figures["solve_ms"] = ["median": anchorMedian, "min": anchorMin, "max": anchorTimes.max()!]
                figures["repeat"] = anchorTimes.count
                entry = Anchor.report(name: "crocoddyl", .ran(figures))
                var ratio: [String: Any] = ["rounds": roundRatios]
                ratio["median"] = Anchor.ratio(median(times), anchorMedian)
                ratio["min"] = Anchor.ratio(sorted.first, anchorMin)
                out["time_ratio_to_anchor"] = ratio
                if let cb = figures["final_cost"] as? Double {
                    let difference = abs(result.cost - cb) / abs(cb)
                    out["cost_relative_difference_to_anchor"] = difference
                    out["same_optimum_as_anchor"] = difference <= sameCostTolerance
                }
                if let ib = figures["iterations_run"] as? Int {
                    out["same_iterations_as_anchor"] = ib == result.iterations
                }
            }
            out["anchor"] = entry
        }
        if let steps = mpc {
            out["mpc"] = [
                "steps": steps,
                "iterations_1": mpcRun(solver: solver, model: model, x0: c.x0, initial: c.initial, steps: steps, iterations: 1),
                "iterations_3": mpcRun(solver: solver, model: model, x0: c.x0, initial: c.initial, steps: steps, iterations: 3),
            ]
        }
        return out
    }

    /// Both solvers' optima agree to this, relative (they stop on slightly different criteria:
    /// the expected decrease of a full step below the tolerance, so they agree to ~5·10⁻⁸).
    public static let sameCostTolerance = 1e-7

    /// The four cases of issue 17, T = 50 and 100 × init zero and x0_gravity, each as `run` does
    /// it (with the anchor side by side when `anchor`): {"cases": [each case's object],
    /// "time_ratio_to_anchor": {"T50_zero": median ratio, …}, "same_optimum_as_anchor",
    /// "same_iterations_as_anchor": true when every case agrees}.
    /// - Throws: what `run` throws.
    public static func runAll(_ p: Problem, anchor: Bool, rounds: Int, loadModel: (String) throws -> RobotModel) throws -> [String: Any] {
        var cases: [[String: Any]] = []
        var ratios: [String: Any] = [:]
        var sameOptimum = true, sameIterations = true
        for horizon in [50, 100] {
            for initZero in [true, false] {
                var q = p
                q.horizon = horizon
                q.initZero = initZero
                let out = try run(q, mpc: nil, anchor: anchor, rounds: rounds, loadModel: loadModel)
                cases.append(out)
                if let ratio = (out["time_ratio_to_anchor"] as? [String: Any])?["median"] {
                    ratios["T\(horizon)_\(initName(q))"] = ratio
                }
                sameOptimum = sameOptimum && (out["same_optimum_as_anchor"] as? Bool ?? false)
                sameIterations = sameIterations && (out["same_iterations_as_anchor"] as? Bool ?? false)
            }
        }
        var out: [String: Any] = ["cases": cases, "repeat": p.repeats, "rounds": rounds]
        if anchor {
            out["time_ratio_to_anchor"] = ratios
            out["same_optimum_as_anchor"] = sameOptimum
            out["same_iterations_as_anchor"] = sameIterations
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
