import AllocationCounter
import LinearAlgebra
import RigidBody
import Testing

/// docs/architecture.md rule 3: once the workspace exists, no algorithm allocates.
@Suite struct AllocationTests {
    /// The mimic gripper takes the reduced paths (tree coordinates on the stack, Cholesky
    /// forward dynamics).
    @Test(arguments: ["random_chain", "mimic_gripper"])
    func dynamicsAlgorithmsDoNotAllocate(_ name: String) throws {
        let model = try RobotModel(urdf: try #require(TestRobots.all.first { $0.0 == name }).1)
        var ws = model.makeWorkspace()
        var iw = model.makeIntegratorWorkspace()
        var rng = SplitMix64(seed: 9)
        var q = rng.vector(model.dof, -1, 1), v = rng.vector(model.dof, -1, 1)
        let tau = rng.vector(model.dof, -5, 5)
        var jacobian = [Double](repeating: 0, count: 6 * model.dof)
        let frame = model.frames.count - 1
        // Warm-up: first calls may initialise lazily (e.g. runtime metadata).
        for _ in 0 ..< 2 { runAll() }
        AllocationCounter_start()
        for _ in 0 ..< 100 { runAll() }
        let count = AllocationCounter_stop()
        #expect(count == 0, "\(count) allocations in 100 rounds of FK, Jacobian, RNEA, CRBA, ABA, derivatives, integrators")

        func runAll() {
            model.forwardKinematics(&ws, q: q)
            model.frameJacobian(ws, frame: frame, into: &jacobian)
            model.rnea(&ws, q: q, v: v, a: tau)
            model.bias(&ws, q: q, v: v)
            model.rneaDerivatives(&ws, q: q, v: v, a: tau)
            model.crba(&ws, q: q)
            model.aba(&ws, q: q, v: v, tau: tau)
            model.abaDerivatives(&ws, q: q, v: v, tau: tau)
            _ = model.energy(&ws, q: q, v: v)
            model.step(&iw, q: &q, v: &v, tau: tau, dt: 1e-4, method: .semiImplicitEuler)
            model.step(&iw, q: &q, v: &v, tau: tau, dt: 1e-4, method: .rk4)
        }
    }

    /// The counter itself must see allocations, or the test above proves nothing.
    @Test func counterSeesAllocations() {
        AllocationCounter_start()
        let a = [Int](repeating: 1, count: Int.random(in: 100 ... 200))
        let count = AllocationCounter_stop()
        #expect(a.count >= 100)
        #expect(count >= 1)
    }
}
