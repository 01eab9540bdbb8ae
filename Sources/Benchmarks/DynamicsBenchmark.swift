import Foundation
import Platform
import RigidBody

/// Times each algorithm on a fixed ring of random states so that branch predictors and caches
/// see realistic, varying inputs; with `urdfPath`, Pinocchio does the same work on the same states
/// side by side (`DynamicsAnchor`), in rounds that alternate robotd and Pinocchio so that load on
/// the machine hits both alike.
public struct DynamicsBenchmark: Sendable {
    public typealias State = (q: [Double], v: [Double], tau: [Double])

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

    /// The algorithms timed, in order.
    public static let functions = ["fk", "jacobian", "rnea", "crba", "aba", "aba_derivatives"]

    /// The JSON object `robotd bench dynamics` prints: the robot, and ns per call of each algorithm.
    /// With `urdfPath` (and Pinocchio installed) also `"anchor"` (Pinocchio's ns per call, median
    /// over rounds), `"time_ratio_to_anchor"` (per function the median over rounds of
    /// ours / Pinocchio's in that round; < 1: robotd faster) and `"anchor_agreement"` (largest
    /// |ours − Pinocchio's| of each result at the first state). `rounds` rounds run
    /// robotd, Pinocchio, robotd, Pinocchio, …; `ns_per_call` is then robotd's median over them.
    public func report(urdfPath: String? = nil, rounds: Int = 3) -> [String: Any] {
        let states = Self.randomStates(dof: model.dof)
        var out: [String: Any] = [
            "robot": model.name,
            "dof": model.dof,
            "calls_per_batch": calls,
            "batches": batches,
        ]
        guard let urdfPath else {
            out["ns_per_call"] = run(states: states)
            return out
        }
        let frame = model.frames.count - 1
        let binary: String
        switch DynamicsAnchor.binary() {
        case .success(let path): binary = path
        case .failure(let why):
            out["ns_per_call"] = run(states: states)
            out["anchor"] = Anchor.report(name: "pinocchio", .unavailable(why.reason))
            return out
        }
        var ours: [[String: Double]] = [], theirs: [[String: Double]] = []
        var last: [String: Any] = [:]
        for _ in 0 ..< max(1, rounds) {
            ours.append(run(states: states))
            let outcome = DynamicsAnchor.run(binary: binary, urdf: urdfPath, model: model, frame: frame,
                                             states: states, calls: calls, batches: batches)
            guard case .ran(let figures) = outcome, let ns = figures["ns_per_call"] as? [String: Any] else {
                out["ns_per_call"] = ours[0]
                out["anchor"] = Anchor.report(name: "pinocchio", outcome)
                return out
            }
            theirs.append(ns.compactMapValues { ($0 as? NSNumber)?.doubleValue })
            last = figures
        }
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        var oursMedian: [String: Double] = [:], theirsMedian: [String: Double] = [:], ratios: [String: Double] = [:]
        var ratioRange: [String: [Double]] = [:]
        for f in Self.functions {
            oursMedian[f] = median(ours.compactMap { $0[f] })
            let t = theirs.compactMap { $0[f] }
            if !t.isEmpty { theirsMedian[f] = median(t) }
            let r = zip(ours, theirs).compactMap { Anchor.ratio($0[f], $1[f]) }
            if !r.isEmpty {
                ratios[f] = median(r)
                ratioRange[f] = [r.min()!, r.max()!]
            }
        }
        out["ns_per_call"] = oursMedian
        out["rounds"] = ours.count
        var anchor: [String: Any] = ["ns_per_call": theirsMedian]
        for key in ["version", "compiler"] { anchor[key] = last[key] }
        anchor["computes"] = "forwardKinematics; computeFrameJacobian (LOCAL_WORLD_ALIGNED, last URDF link); rnea; crba (lower triangle copied) and aba: the faster of the WORLD and LOCAL conventions; computeABADerivatives — armature as robotd's, no damping or friction"
        if let conventions = last["conventions_ns_per_call"] { anchor["conventions_ns_per_call"] = conventions }
        out["anchor"] = Anchor.report(name: "pinocchio", .ran(anchor))
        out["time_ratio_to_anchor"] = ratios
        out["time_ratio_to_anchor_range"] = ratioRange
        if let state0 = last["state0"] as? [String: Any] {
            out["anchor_agreement"] = agreement(with: state0, state: states[0], frame: frame)
        }
        return out
    }

    /// 16 states drawn at random: q ∈ [−1.5, 1.5], v ∈ [−1, 1], τ ∈ [−5, 5] (τ is also RNEA's a).
    public static func randomStates(dof n: Int) -> [State] {
        var rng = SystemRandomNumberGenerator()
        return (0 ..< 16).map { _ in
            (q: (0 ..< n).map { _ in Double.random(in: -1.5 ... 1.5, using: &rng) },
             v: (0 ..< n).map { _ in Double.random(in: -1 ... 1, using: &rng) },
             tau: (0 ..< n).map { _ in Double.random(in: -5 ... 5, using: &rng) })
        }
    }

    /// Largest |robotd − Pinocchio| per result at `state` (matrices column-major on both sides).
    func agreement(with anchor: [String: Any], state s: State, frame: Int) -> [String: Double] {
        var ws = model.makeWorkspace()
        var jacobian = [Double](repeating: 0, count: 6 * model.dof)
        var ours: [String: [Double]] = [:]
        model.rnea(&ws, q: s.q, v: s.v, a: s.tau)
        ours["rnea"] = ws.tau
        model.crba(&ws, q: s.q)
        ours["crba"] = ws.massMatrix
        model.aba(&ws, q: s.q, v: s.v, tau: s.tau)
        ours["aba"] = ws.ddq
        model.abaDerivatives(&ws, q: s.q, v: s.v, tau: s.tau)
        ours["ddq_dq"] = ws.ddqDq
        ours["ddq_dv"] = ws.ddqDv
        model.forwardKinematics(&ws, q: s.q)
        model.frameJacobian(ws, frame: frame, into: &jacobian)
        ours["jacobian"] = jacobian
        var out: [String: Double] = [:]
        for (key, mine) in ours {
            guard let theirs = (anchor[key] as? [Any])?.compactMap({ ($0 as? NSNumber)?.doubleValue }), theirs.count == mine.count else { continue }
            out[key] = zip(mine, theirs).map { abs($0 - $1) }.max() ?? 0
        }
        return out
    }

    /// Nanoseconds per call of fk, jacobian, rnea, crba, aba and aba_derivatives on `states`
    /// (a fresh random set when nil).
    public func run(states given: [State]? = nil) -> [String: Double] {
        let n = model.dof
        let states = given ?? Self.randomStates(dof: n)
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
