import Learning

/// A nominal model corrected by a learned residual: x' = f_nom(x, u) + r̄(x, u), where r̄ is the
/// mean over an ensemble of MLPs trained on (measured next state − nominal prediction) with input
/// (x, u) — or x alone (nx inputs), a state-only residual r̄(x). Its Jacobians are the nominal
/// ones plus the ensemble-mean network Jacobian, so iLQR plans with the learned model exactly as
/// with the rigid-body one.
public struct ResidualDynamics<Nominal: DynamicsModel>: DynamicsModel {
    public let nominal: Nominal
    /// Ensemble members: nx + nu inputs (x, u) or nx (x alone), nx outputs each.
    public let members: [MLP]
    /// Which of the network's derivatives enter fx, fu. The step always uses the full residual.
    public enum Derivatives: String, Sendable, CaseIterable {
        /// ∂r̄/∂(x, u): the exact derivative of the step.
        case full
        /// ∂r̄/∂q only (the first half of x). The rigid-body model's velocity and torque
        /// derivatives stand: a learned Coulomb-friction residual is a smoothed step in v
        /// whose slope at rest is large and says nothing a feedback gain should act on, while
        /// the position derivative (a payload's gravity and inertia) is smooth and useful.
        case position
        /// None: the rigid-body derivatives with the learned rollouts.
        case none
    }

    public let derivatives: Derivatives
    /// Per state component, the largest |r̄ᵢ| the step uses (nx values; nil = unbounded): the mean
    /// residual is clamped to [−bᵢ, bᵢ]. A network far outside its data can output anything
    /// (1e12 has been seen); bounded to a multiple of what the training targets showed, a
    /// confidently wrong extrapolation stays a bounded model error. A clamped component's
    /// derivative is 0.
    public let residualBound: [Double]?

    public init(nominal: Nominal, members: [MLP], derivatives: Derivatives = .full, residualBound: [Double]? = nil) {
        let nx = nominal.stateDimension, nu = nominal.controlDimension
        precondition(!members.isEmpty && members.allSatisfy { $0.inputSize == members[0].inputSize && $0.outputSize == nx }
                     && (members[0].inputSize == nx + nu || members[0].inputSize == nx),
                     "residual networks take (x, u) or x and give Δx")
        self.nominal = nominal
        self.members = members
        self.derivatives = derivatives
        precondition(residualBound.map { $0.count == nx && $0.allSatisfy { $0 >= 0 } } ?? true, "one non-negative bound per state component")
        self.residualBound = residualBound
        takesControl = members[0].inputSize == nx + nu
    }

    /// r clamped to [−bᵢ, bᵢ] (as is without bounds).
    @inline(__always)
    func bounded(_ r: Double, _ i: Int) -> Double {
        guard let b = residualBound else { return r }
        return min(max(r, -b[i]), b[i])
    }

    public var stateDimension: Int { nominal.stateDimension }
    public var controlDimension: Int { nominal.controlDimension }
    public var dt: Double { nominal.dt }
    /// Whether the members take u (nx + nu inputs) or only x.
    public let takesControl: Bool

    /// A class, so that generic callers that copy the workspace value still mutate one set of
    /// buffers (no copy-on-write of the per-member arrays in the planning loop).
    public final class Workspace {
        var nominal: Nominal.Workspace
        var forward: [MLPWorkspace]
        var jacobian: [MLPJacobianWorkspace]
        let input: UnsafeMutablePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let jac: UnsafeMutablePointer<Float>
        /// Every member's output (K × nx) and Jacobian (K × nx × (nx + nu)), for the disagreement.
        let memberOutputs: UnsafeMutablePointer<Float>
        let memberJacobians: UnsafeMutablePointer<Float>
        /// The members' mean output (nx), in Double: the gradient's deviations must sum to zero.
        let means: UnsafeMutablePointer<Double>
        /// The members' mean Jacobian (nx × (nx + nu)), row-major, before the bound is applied.
        let meanJacobian: UnsafeMutablePointer<Double>
        /// The input `memberOutputs` holds every member's output for, when `outputsValid`: the
        /// planner's cost asks for the disagreement at the (x, u) its rollout then steps from (or
        /// the other way round), and the members' forward passes are the expensive part of both.
        let cachedInput: UnsafeMutablePointer<Float>
        var outputsValid = false

        init(nominal: Nominal.Workspace, forward: [MLPWorkspace], jacobian: [MLPJacobianWorkspace], nx: Int, nu: Int) {
            self.nominal = nominal
            self.forward = forward
            self.jacobian = jacobian
            let k = forward.count
            func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
                p.initialize(repeating: 0, count: count)
                return p
            }
            input = buffer(nx + nu)
            output = buffer(nx)
            jac = buffer(nx * (nx + nu))
            memberOutputs = buffer(k * nx)
            memberJacobians = buffer(k * nx * (nx + nu))
            means = .allocate(capacity: nx)
            means.initialize(repeating: 0, count: nx)
            meanJacobian = .allocate(capacity: nx * (nx + nu))
            meanJacobian.initialize(repeating: 0, count: nx * (nx + nu))
            cachedInput = buffer(nx + nu)
        }

        deinit {
            for p in [input, output, jac, memberOutputs, memberJacobians, cachedInput] { p.deallocate() }
            means.deallocate()
            meanJacobian.deallocate()
        }
    }

    public func makeWorkspace() -> Workspace {
        Workspace(nominal: nominal.makeWorkspace(), forward: members.map { $0.makeWorkspace() },
                  jacobian: members.map { $0.makeJacobianWorkspace() }, nx: stateDimension, nu: controlDimension)
    }

    @inline(__always)
    private func load(_ ws: Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>) {
        let nx = stateDimension, nu = controlDimension
        for i in 0 ..< nx { ws.input[i] = Float(x[i]) }
        if takesControl { for i in 0 ..< nu { ws.input[nx + i] = Float(u[i]) } }
    }

    /// Every member's output for `ws.input` into `ws.memberOutputs` (K × nx), unless they are
    /// there already for this input.
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    private func memberOutputs(_ ws: Workspace) {
        let n = members[0].inputSize, nx = stateDimension
        if ws.outputsValid, (0 ..< n).allSatisfy({ ws.cachedInput[$0] == ws.input[$0] }) { return }
        for m in members.indices { members[m].forward(&ws.forward[m], input: ws.input, output: ws.memberOutputs + m * nx) }
        ws.cachedInput.update(from: ws.input, count: n)
        ws.outputsValid = true
    }

    /// next += clamp(the members' mean output, ±residualBound).
    @inline(__always)
    private func addMean(_ ws: Workspace, to next: UnsafeMutablePointer<Double>) {
        let nx = stateDimension, k = Double(members.count)
        for i in 0 ..< nx {
            var r = 0.0
            for m in members.indices { r += Double(ws.memberOutputs[m * nx + i]) / k }
            next[i] += bounded(r, i)
        }
    }

    public func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>) -> Bool {
        guard nominal.step(&ws.nominal, x: x, u: u, next: next) else { return false }
        load(ws, x: x, u: u)
        memberOutputs(ws)
        addMean(ws, to: next)
        for i in 0 ..< stateDimension where !next[i].isFinite { return false }
        return true
    }

    /// Epistemic disagreement at (x, u): the variance of the members' predicted residuals,
    /// averaged over the state (units of the state squared). 0 for a single member.
    /// - Note: Real-time safe: no allocation, no locks.
    public func disagreement(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>) -> Double {
        guard members.count > 1 else { return 0 }
        load(ws, x: x, u: u)
        memberOutputs(ws)
        return memberVariance(ws)
    }

    /// D = (1/(K·nx)) Σ_m Σ_i (y_mi − ȳ_i)² over the outputs in `ws.memberOutputs`, and ȳ in `ws.means`.
    @inline(__always)
    private func memberVariance(_ ws: Workspace) -> Double {
        let nx = stateDimension, k = members.count
        var total = 0.0
        for i in 0 ..< nx {
            var mean = 0.0
            for m in 0 ..< k { mean += Double(ws.memberOutputs[m * nx + i]) }
            mean /= Double(k)
            ws.means[i] = mean
            for m in 0 ..< k { let e = Double(ws.memberOutputs[m * nx + i]) - mean; total += e * e }
        }
        return total / Double(k * nx)
    }

    /// The disagreement D at (x, u) and its gradient ∂D/∂(x, u) (nx + nu values; the u part is 0
    /// for a state-only residual) into `gradient`:
    /// ∇D = (2/(K·nx)) Σ_m Σ_i (y_mi − ȳ_i) ∇y_mi — the ∇ȳ term drops out because the deviations
    /// sum to zero over the members.
    /// - Note: Real-time safe: no allocation, no locks.
    public func disagreementGradient(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>,
                                     gradient: UnsafeMutablePointer<Double>) -> Double {
        let nx = stateDimension, n = members[0].inputSize, k = members.count
        for c in 0 ..< nx + controlDimension { gradient[c] = 0 }
        guard k > 1 else { return 0 }
        load(ws, x: x, u: u)
        for m in members.indices {
            members[m].jacobian(&ws.jacobian[m], input: ws.input, output: ws.memberOutputs + m * nx,
                                jacobian: ws.memberJacobians + m * nx * n)
        }
        ws.cachedInput.update(from: ws.input, count: n)
        ws.outputsValid = true
        let d = memberVariance(ws)
        let scale = 2 / Double(k * nx)
        for m in 0 ..< k {
            let jm = ws.memberJacobians + m * nx * n
            for i in 0 ..< nx {
                let e = scale * (Double(ws.memberOutputs[m * nx + i]) - ws.means[i])
                for c in 0 ..< n { gradient[c] += e * Double(jm[i * n + c]) }
            }
        }
        return d
    }

    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                          fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        guard nominal.linearize(&ws.nominal, x: x, u: u, next: next, fx: fx, fu: fu) else { return false }
        load(ws, x: x, u: u)
        let nx = stateDimension, nu = controlDimension, n = members[0].inputSize, k = Double(members.count)
        if derivatives == .none {
            memberOutputs(ws)
            addMean(ws, to: next)
            return true
        }
        let control = takesControl && derivatives == .full
        let columns = derivatives == .full ? nx : nx / 2
        for i in 0 ..< nx { ws.means[i] = 0 }
        for i in 0 ..< nx * n { ws.meanJacobian[i] = 0 }
        for m in members.indices {
            members[m].jacobian(&ws.jacobian[m], input: ws.input, output: ws.output, jacobian: ws.jac)
            for r in 0 ..< nx {
                ws.means[r] += Double(ws.output[r]) / k
                for c in 0 ..< n { ws.meanJacobian[r * n + c] += Double(ws.jac[r * n + c]) / k }
            }
        }
        for r in 0 ..< nx {
            let clamped = bounded(ws.means[r], r)
            next[r] += clamped
            guard clamped == ws.means[r] else { continue }
            for c in 0 ..< columns { fx[r * nx + c] += ws.meanJacobian[r * n + c] }
            if control { for c in 0 ..< nu { fu[r * nu + c] += ws.meanJacobian[r * n + nx + c] } }
        }
        return true
    }
}
