import Platform
import RigidBody

/// Times each algorithm on a fixed ring of random states so that branch predictors and caches
/// see realistic, varying inputs.
public struct DynamicsBenchmark: Sendable {
    public let model: RobotModel
    /// Calls per timed batch.
    public let calls: Int
    /// Timed batches: the median over them is reported.
    public let batches: Int

    public init(model: RobotModel, calls: Int, batches: Int) {
        precondition(calls > 0 && batches > 0, "DynamicsBenchmark: calls and batches must be positive")
        self.model = model
        self.calls = calls
        self.batches = batches
    }

    /// The JSON object `robotd bench dynamics` prints: the robot, and ns per call of each algorithm.
    public func report() -> [String: Any] {
        [
            "robot": model.name,
            "dof": model.dof,
            "ns_per_call": run(),
            "calls_per_batch": calls,
            "batches": batches,
        ]
    }

    /// Nanoseconds per call of fk, jacobian, rnea, crba, aba and aba_derivatives.
    public func run() -> [String: Double] {
        let n = model.dof
        var rng = SystemRandomNumberGenerator()
        let states = (0 ..< 16).map { _ in
            (q: (0 ..< n).map { _ in Double.random(in: -1.5 ... 1.5, using: &rng) },
             v: (0 ..< n).map { _ in Double.random(in: -1 ... 1, using: &rng) },
             tau: (0 ..< n).map { _ in Double.random(in: -5 ... 5, using: &rng) })
        }
        var ws = model.makeWorkspace()
        var jacobian = [Double](repeating: 0, count: 6 * n)
        let frame = model.frames.count - 1
        var sink = 0.0

        func measure(_ body: (Int) -> Void) -> Double {
            for k in 0 ..< calls { body(k & 15) }
            var perCall: [Double] = []
            perCall.reserveCapacity(batches)
            for _ in 0 ..< batches {
                let t0 = MonotonicClock.now()
                for k in 0 ..< calls { body(k & 15) }
                perCall.append(Double(MonotonicClock.now() - t0) / Double(calls))
            }
            perCall.sort()
            return perCall[perCall.count / 2]
        }

        var out: [String: Double] = [:]
        out["fk"] = measure { s in
            model.forwardKinematics(&ws, q: states[s].q)
            sink += ws.poses[n - 1].translation.x
        }
        out["jacobian"] = measure { s in
            model.forwardKinematics(&ws, q: states[s].q)
            model.frameJacobian(ws, frame: frame, into: &jacobian)
            sink += jacobian[0]
        }
        out["rnea"] = measure { s in
            model.rnea(&ws, q: states[s].q, v: states[s].v, a: states[s].tau)
            sink += ws.tau[0]
        }
        out["crba"] = measure { s in
            model.crba(&ws, q: states[s].q)
            sink += ws.massMatrix[0]
        }
        out["aba"] = measure { s in
            model.aba(&ws, q: states[s].q, v: states[s].v, tau: states[s].tau)
            sink += ws.ddq[0]
        }
        out["aba_derivatives"] = measure { s in
            model.abaDerivatives(&ws, q: states[s].q, v: states[s].v, tau: states[s].tau)
            sink += ws.ddqDq[0]
        }
        if sink.isNaN { print("", terminator: "") }
        return out
    }
}
