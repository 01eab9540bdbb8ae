import Learning

/// A nominal model corrected by a learned residual: x' = f_nom(x, u) + r̄(x, u), where r̄ is the
/// mean over an ensemble of MLPs trained on (measured next state − nominal prediction) with input
/// (x, u). Its Jacobians are the nominal ones plus the ensemble-mean network Jacobian, so iLQR
/// plans with the learned model exactly as with the rigid-body one.
public struct ResidualDynamics<Nominal: DynamicsModel>: DynamicsModel {
    public let nominal: Nominal
    /// Ensemble members: (nx + nu) inputs, nx outputs each.
    public let members: [MLP]

    public init(nominal: Nominal, members: [MLP]) {
        let nx = nominal.stateDimension, nu = nominal.controlDimension
        precondition(!members.isEmpty && members.allSatisfy { $0.inputSize == nx + nu && $0.outputSize == nx },
                     "residual networks take (x, u) and give Δx")
        self.nominal = nominal
        self.members = members
    }

    public var stateDimension: Int { nominal.stateDimension }
    public var controlDimension: Int { nominal.controlDimension }
    public var dt: Double { nominal.dt }

    /// A class, so that generic callers that copy the workspace value still mutate one set of
    /// buffers (no copy-on-write of the per-member arrays in the planning loop).
    public final class Workspace {
        var nominal: Nominal.Workspace
        var forward: [MLPWorkspace]
        var jacobian: [MLPJacobianWorkspace]
        let input: UnsafeMutablePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let jac: UnsafeMutablePointer<Float>

        init(nominal: Nominal.Workspace, forward: [MLPWorkspace], jacobian: [MLPJacobianWorkspace], input: UnsafeMutablePointer<Float>,
             output: UnsafeMutablePointer<Float>, jac: UnsafeMutablePointer<Float>) {
            self.nominal = nominal
            self.forward = forward
            self.jacobian = jacobian
            self.input = input
            self.output = output
            self.jac = jac
        }

        deinit {
            input.deallocate()
            output.deallocate()
            jac.deallocate()
        }
    }

    public func makeWorkspace() -> Workspace {
        let nx = stateDimension, nu = controlDimension
        let input = UnsafeMutablePointer<Float>.allocate(capacity: nx + nu)
        input.initialize(repeating: 0, count: nx + nu)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: nx)
        output.initialize(repeating: 0, count: nx)
        let jac = UnsafeMutablePointer<Float>.allocate(capacity: nx * (nx + nu))
        jac.initialize(repeating: 0, count: nx * (nx + nu))
        return Workspace(nominal: nominal.makeWorkspace(), forward: members.map { $0.makeWorkspace() },
                         jacobian: members.map { $0.makeJacobianWorkspace() }, input: input, output: output, jac: jac)
    }

    @inline(__always)
    private func load(_ ws: Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>) {
        let nx = stateDimension, nu = controlDimension
        for i in 0 ..< nx { ws.input[i] = Float(x[i]) }
        for i in 0 ..< nu { ws.input[nx + i] = Float(u[i]) }
    }

    public func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>) -> Bool {
        guard nominal.step(&ws.nominal, x: x, u: u, next: next) else { return false }
        load(ws, x: x, u: u)
        let nx = stateDimension, k = Double(members.count)
        for m in members.indices {
            members[m].forward(&ws.forward[m], input: ws.input, output: ws.output)
            for i in 0 ..< nx { next[i] += Double(ws.output[i]) / k }
        }
        for i in 0 ..< nx where !next[i].isFinite { return false }
        return true
    }

    /// Epistemic disagreement at (x, u): the variance of the members' predicted residuals,
    /// averaged over the state (units of the state squared). 0 for a single member.
    /// - Note: Real-time safe: no allocation, no locks.
    public func disagreement(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>) -> Double {
        guard members.count > 1 else { return 0 }
        load(ws, x: x, u: u)
        let nx = stateDimension, nu = controlDimension, k = members.count
        // The members' outputs side by side in the Jacobian scratch (nx·(nx+nu) ≥ k·nx for the
        // ensemble sizes the configuration allows), then a two-pass variance per output.
        precondition(k * nx <= nx * (nx + nu), "too many members for the scratch buffer")
        for m in members.indices { members[m].forward(&ws.forward[m], input: ws.input, output: ws.jac + m * nx) }
        var total = 0.0
        for i in 0 ..< nx {
            var mean = 0.0
            for m in 0 ..< k { mean += Double(ws.jac[m * nx + i]) }
            mean /= Double(k)
            var v = 0.0
            for m in 0 ..< k { let e = Double(ws.jac[m * nx + i]) - mean; v += e * e }
            total += v / Double(k)
        }
        return total / Double(nx)
    }

    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                          fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        guard nominal.linearize(&ws.nominal, x: x, u: u, next: next, fx: fx, fu: fu) else { return false }
        load(ws, x: x, u: u)
        let nx = stateDimension, nu = controlDimension, n = nx + nu, k = Double(members.count)
        for m in members.indices {
            members[m].jacobian(&ws.jacobian[m], input: ws.input, output: ws.output, jacobian: ws.jac)
            for r in 0 ..< nx {
                next[r] += Double(ws.output[r]) / k
                for c in 0 ..< nx { fx[r * nx + c] += Double(ws.jac[r * n + c]) / k }
                for c in 0 ..< nu { fu[r * nu + c] += Double(ws.jac[r * n + nx + c]) / k }
            }
        }
        return true
    }
}
