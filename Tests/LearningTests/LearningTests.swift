import AllocationCounter
import Foundation
@testable import Learning
import LinearAlgebra
import BuildInfo
import Testing

@Suite struct MLPTests {
    /// ∂y/∂x against central differences of the forward pass (Float64 reference of a Float32
    /// network: step and tolerance sized for single precision).
    @Test(arguments: Activation.allCases.filter { $0 != .relu })
    func jacobianMatchesFiniteDifferences(_ activation: Activation) {
        var mlp = MLP(widths: [5, 16, 16, 3], activation: activation, seed: 4)
        mlp.inputScale = [1, 2, 0.5, 1, 3]
        mlp.outputScale = [2, 1, 0.5]
        var ws = mlp.makeWorkspace()
        let x: [Float] = [0.3, -0.2, 0.5, 0.1, -0.4]
        let J = mlp.jacobian(at: x)
        var y0 = [Float](repeating: 0, count: 3), y1 = y0
        let h: Float = 1e-2
        for c in 0 ..< 5 {
            var xp = x, xm = x
            xp[c] += h; xm[c] -= h
            mlp.forward(&ws, input: xp, output: &y0)
            mlp.forward(&ws, input: xm, output: &y1)
            for r in 0 ..< 3 {
                let fd = (y0[r] - y1[r]) / (2 * h)
                #expect(abs(fd - J[r * 5 + c]) <= 2e-3 * max(1, abs(fd)), "\(activation) J[\(r),\(c)] \(J[r * 5 + c]) vs FD \(fd)")
            }
        }
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func forwardAllocatesNothing() {
        let mlp = MLP(widths: [12, 256, 256, 6], activation: .relu)
        var ws = mlp.makeWorkspace()
        let x = [Float](repeating: 0.1, count: 12)
        var y = [Float](repeating: 0, count: 6)
        mlp.forward(&ws, input: x, output: &y)
        AllocationCounter_start()
        for _ in 0 ..< 100 { x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { mlp.forward(&ws, input: xb.baseAddress!, output: $0.baseAddress!) } } }
        #expect(AllocationCounter_stop() == 0)
    }
}

@Suite struct RenormaliseTests {
    static func output(_ m: MLP, _ x: [Float]) -> [Float] {
        var ws = m.makeWorkspace()
        var out = [Float](repeating: 0, count: m.outputSize)
        x.withUnsafeBufferPointer { m.forward(&ws, input: $0.baseAddress!, output: &out) }
        return out
    }

    /// New normalisers, same function: the re-expressed network gives the old outputs on random
    /// inputs (one and several layers); an input that becomes ignored drops out exactly at its
    /// new mean and the network no longer depends on it.
    @Test(arguments: [[5, 4], [5, 16, 16, 4]])
    func keepsTheFunction(widths: [Int]) {
        var rng = SplitMix64(seed: 9)
        func u(_ a: Double, _ b: Double) -> Float { Float(a + (b - a) * rng.nextUnit()) }
        var m = MLP(widths: widths, activation: .silu, seed: 3)
        m.inputMean = (0 ..< 5).map { _ in u(-1, 1) }
        m.inputScale = (0 ..< 5).map { _ in u(0.2, 2) }
        m.outputMean = (0 ..< 4).map { _ in u(-1, 1) }
        m.outputScale = (0 ..< 4).map { _ in u(0.1, 3) }
        var r = m
        let m2 = (0 ..< 5).map { _ in u(-1, 1) }, s2 = (0 ..< 5).map { _ in u(0.2, 2) }
        r.renormalise(inputMean: m2, inputScale: s2, outputMean: (0 ..< 4).map { _ in u(-1, 1) }, outputScale: (0 ..< 4).map { _ in u(0.1, 3) })
        #expect(r.inputScale == s2)
        for _ in 0 ..< 20 {
            let x = (0 ..< 5).map { _ in u(-2, 2) }
            let a = Self.output(m, x), b = Self.output(r, x)
            for o in 0 ..< 4 { #expect(abs(a[o] - b[o]) <= 1e-4 * max(1, abs(a[o])), "\(a) vs \(b)") }
        }
        // Input 2 becomes ignored: at its new mean the function is unchanged; elsewhere constant.
        var ignored = m
        var s3 = m.inputScale
        s3[2] = MLP.ignoredInputScale
        ignored.renormalise(inputMean: m2, inputScale: s3, outputMean: m.outputMean, outputScale: m.outputScale)
        var x = (0 ..< 5).map { _ in u(-2, 2) }
        x[2] = m2[2]
        let a = Self.output(m, x), b = Self.output(ignored, x)
        for o in 0 ..< 4 { #expect(abs(a[o] - b[o]) <= 1e-4 * max(1, abs(a[o]))) }
        x[2] += 1
        #expect(Self.output(ignored, x) == b)
    }
}
