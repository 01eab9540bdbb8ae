import CVectorMath
import Foundation
@testable import Learning
import LinearAlgebra
import Testing

/// The single-input kernels under `MLP.forward` against Float64 references: SiLU and its
/// gradient from libm's `exp` in double precision, W x + b and W diag(d) X summed in double.
/// Each kernel test runs on both builds (0: baseline x86-64, 1: AVX2+FMA where the CPU has it),
/// whichever this machine dispatches to.
@Suite struct KernelTests {
    /// The builds this CPU can run.
    static let builds = [0, 1].filter { CVectorMath_buildAvailable(Int32($0)) != 0 }

    /// The dispatch picks AVX2+FMA exactly when the CPU has both (x86-64), else the baseline.
    @Test func dispatchPicksTheBestBuildTheCPUHas() {
        #expect(Int(CVectorMath_selectedBuild()) == Self.builds.max())
        #expect(Self.builds.contains(0))
    }

    static func ulps(_ value: Float, _ reference: Double) -> Double {
        abs(Double(value) - reference) / Double(Float(reference).ulp)
    }

    /// Every float in [−87, 87] at a stride of a few thousand ulps, plus the points where the
    /// range reduction switches n: within 3 ulp of x/(1 + e^(−x)) (PyTorch's own vectorised SiLU
    /// is within a few ulp of libm).
    @Test(arguments: builds)
    func siluIsWithinAFewUlpOfTheDoublePrecisionFunction(_ build: Int) {
        var xs: [Float] = []
        var x: Float = -87
        while x < 87 {
            xs.append(x)
            x = x.isZero ? x.nextUp : x + max(abs(x) * 3e-4, 1e-30)
        }
        xs += (-125 ... 125).map { Float($0) * Float(M_LN2) / 2 }
        var h = [Float](repeating: .nan, count: xs.count)
        CVectorMath_siluIn(Int32(build), xs, &h, xs.count)
        var worst = 0.0, at: Float = 0
        for (i, x) in xs.enumerated() {
            let ref = Double(x) / (1 + exp(-Double(x)))
            guard abs(ref) > 1e-35 else { continue }  // subnormal results: absolute check below
            let e = Self.ulps(h[i], ref)
            if e > worst { (worst, at) = (e, x) }
        }
        #expect(worst <= 3, "build \(build): SiLU is \(worst) ulp off at x = \(at)")
    }

    @Test(arguments: builds)
    func siluLimitsAndNaN(_ build: Int) {
        var g = [Float](repeating: 1, count: 5)
        CVectorMath_siluGradientIn(Int32(build), [-.infinity, -1000, 1000, .infinity, .nan], &g, 5)
        #expect(Array(g[0 ..< 4]) == [0, 0, 1, 1] && g[4].isNaN)
        // Thirteen values: one 8-lane block and a scalar tail.
        let xs: [Float] = [-1e30, -1000, -100, -88, 88, 100, 1000, 1e30, .infinity, -.infinity, .nan, 0, -0.0]
        for shift in 0 ..< 2 {
            let v = Array(xs[shift...] + xs[..<shift])
            var h = [Float](repeating: 7, count: v.count)
            CVectorMath_siluIn(Int32(build), v, &h, v.count)
            check(v, h)
        }
    }

    func check(_ xs: [Float], _ h: [Float]) {
        for (x, y) in zip(xs, h) {
            if x.isNaN { #expect(y.isNaN); continue }
            if x < -80 { #expect(y == 0, "silu(\(x)) = \(y)") }
            if x > 80 { #expect(y == x, "silu(\(x)) = \(y)") }
            if x == 0 { #expect(y == 0) }
        }
    }

    /// In place (h == z) gives the same bits as out of place, for lengths around the vector width.
    @Test(arguments: builds)
    func siluInPlaceEqualsOutOfPlace(_ build: Int) {
        for n in [1, 7, 8, 9, 15, 16, 17, 200, 203] {
            let z = (0 ..< n).map { Float($0) * 0.37 - 20 }
            var out = [Float](repeating: 0, count: n), inPlace = z
            CVectorMath_siluIn(Int32(build), z, &out, n)
            inPlace.withUnsafeMutableBufferPointer { CVectorMath_siluIn(Int32(build), $0.baseAddress!, $0.baseAddress!, n) }
            #expect(out == inPlace, "build \(build), n = \(n)")
        }
    }

    /// `Activation` reaches the dispatched kernels (the same bits as the selected build's).
    @Test func activationUsesTheSelectedBuild() {
        let z = (0 ..< 203).map { Float($0) * 0.37 - 37 }
        var a = [Float](repeating: 0, count: z.count), b = a
        Activation.silu.apply(z, into: &a, count: z.count)
        CVectorMath_siluIn(CVectorMath_selectedBuild(), z, &b, z.count)
        #expect(a == b)
        var ga = [Float](repeating: 1, count: z.count), gb = ga
        Activation.silu.multiplyDerivative(&ga, at: z, count: z.count)
        CVectorMath_siluGradientIn(CVectorMath_selectedBuild(), z, &gb, z.count)
        #expect(ga == gb)
        #expect(Activation.silu.apply(z[5]) == b[5] && Activation.silu.derivative(z[5]) == gb[5])
    }

    /// σ′(x) = s(1 + x(1 − s)) against central differences of the double-precision SiLU. In
    /// Float32, 1 − s loses the digits s shares with 1, and x multiplies what is left: the
    /// formula's own error grows like |x|·ε, so the bound does too.
    @Test(arguments: builds)
    func siluGradientMatchesCentralDifferences(_ build: Int) {
        let xs = (0 ..< 401).map { Float($0) * 0.1 - 20 }
        var g = [Float](repeating: 1, count: xs.count)
        CVectorMath_siluGradientIn(Int32(build), xs, &g, xs.count)
        for (x, d) in zip(xs, g) {
            let f = { (t: Double) in t / (1 + exp(-t)) }, h = 1e-6, xd = Double(x)
            let fd = (f(xd + h) - f(xd - h)) / (2 * h)
            #expect(abs(Double(d) - fd) <= 2.4e-7 * (1 + abs(Double(x))), "σ′(\(x)) = \(d), central difference \(fd)")
        }
    }

    /// W x + b for shapes with and without whole blocks of 8 columns and 4 rows, at aligned and
    /// misaligned addresses, against a double-precision sum.
    @Test(arguments: builds, [(1, 1), (3, 5), (4, 8), (7, 13), (12, 200), (200, 18), (200, 200), (5, 17)])
    func gemvMatchesTheDoublePrecisionProduct(_ build: Int, _ shape: (Int, Int)) {
        let (rows, cols) = shape
        var rng = SplitMix64(seed: UInt64(rows * 1000 + cols))
        for offset in 0 ..< 3 {
            let w = (0 ..< rows * cols + offset).map { _ in Float(rng.nextUnit()) * 2 - 1 }
            let x = (0 ..< cols + offset).map { _ in Float(rng.nextUnit()) * 2 - 1 }
            let b = (0 ..< rows).map { _ in Float(rng.nextUnit()) - 0.5 }
            var y = [Float](repeating: .nan, count: rows)
            w.withUnsafeBufferPointer { wp in
                x.withUnsafeBufferPointer { xp in
                    CVectorMath_gemvBiasIn(Int32(build), wp.baseAddress! + offset, xp.baseAddress! + offset, b, &y, rows, cols)
                }
            }
            for r in 0 ..< rows {
                var s = Double(b[r]), mag = abs(Double(b[r]))
                for c in 0 ..< cols {
                    let t = Double(w[offset + r * cols + c]) * Double(x[offset + c])
                    s += t
                    mag += abs(t)
                }
                // Float32 summation of `cols` terms: error ≲ cols·ε·Σ|terms|.
                #expect(abs(Double(y[r]) - s) <= Double(cols + 1) * 1.2e-7 * mag, "\(rows)×\(cols) offset \(offset) row \(r): \(y[r]) vs \(s)")
            }
        }
    }

    /// W · diag(d) · X for the Jacobian chain, with 1 to 5 column vectors (ld 8…40, covering the
    /// 3-, 2- and 1-vector passes), columns past the last whole vector (ld 3, 13, 21), and row
    /// counts with and without whole blocks of four, against a double-precision product.
    @Test(arguments: builds, [(4, 3, 8), (7, 5, 16), (12, 64, 16), (64, 64, 24), (9, 13, 32), (5, 200, 40), (1, 1, 8),
                              (6, 4, 3), (5, 9, 13), (9, 7, 21)])
    func scaledRowProductMatchesTheDoublePrecisionProduct(_ build: Int, _ shape: (Int, Int, Int)) {
        let (m, k, ld) = shape
        var rng = SplitMix64(seed: UInt64(m * 7919 + k * 31 + ld))
        let w = (0 ..< m * k).map { _ in Float(rng.nextUnit()) * 2 - 1 }
        let d = (0 ..< k).map { _ in Float(rng.nextUnit()) * 1.2 }
        let x = (0 ..< k * ld).map { _ in Float(rng.nextUnit()) * 2 - 1 }
        var y = [Float](repeating: .nan, count: m * ld)
        CVectorMath_gemmScaledRowsIn(Int32(build), w, d, x, &y, m, k, ld)
        for r in 0 ..< m {
            for c in 0 ..< ld {
                var s = 0.0, mag = 0.0
                for j in 0 ..< k {
                    let t = Double(w[r * k + j]) * Double(d[j]) * Double(x[j * ld + c])
                    s += t
                    mag += abs(t)
                }
                #expect(abs(Double(y[r * ld + c]) - s) <= Double(k + 2) * 1.2e-7 * mag, "\(m)×\(k)×\(ld) [\(r), \(c)]: \(y[r * ld + c]) vs \(s)")
            }
        }
    }

    /// Every weight matrix and bias vector starts on a 64-byte line (the point of `Parameters`).
    @Test func parametersAreCacheLineAligned() {
        let mlp = MLP(widths: [18, 200, 200, 200, 12], activation: .silu)
        for l in 0 ..< mlp.layerCount {
            mlp.withLayer(l) { w, b in
                #expect(Int(bitPattern: w.baseAddress!) % 64 == 0)
                #expect(Int(bitPattern: b.baseAddress!) % 64 == 0)
            }
        }
    }

    /// MLP is a value: a copy keeps its weights when the original is trained or assigned.
    @Test func mlpCopiesAreIndependent() {
        var a = MLP(widths: [3, 4, 2], activation: .tanh, seed: 2)
        let b = a
        #expect(a == b)
        a.withMutableLayer(0) { w, _ in w[0] += 1 }
        #expect(a != b)
        #expect(a.weights[0][0] == b.weights[0][0] + 1)
        var c = b
        c.weights = b.weights.map { $0.map { $0 * 2 } }
        #expect(c.weights[1] == b.weights[1].map { $0 * 2 })
        #expect(b.biases == c.biases)
        c.biases[1][1] = 5
        #expect(c.biases[1] == [b.biases[1][0], 5])
        #expect(b.biases[1][1] != 5)
    }
}
