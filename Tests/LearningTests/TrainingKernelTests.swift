import CVectorMath
import Foundation
@testable import Learning
import LinearAlgebra
import Testing

/// The training kernels under `MLPTrainer.step` (AdamW, the gradient's squared norm, the bias
/// gradient's column sums) on both builds against their definitions in Float64 or in order.
@Suite struct TrainingKernelTests {
    static let builds = KernelTests.builds

    static func values(_ n: Int, seed: UInt64, scale: Double = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0 ..< n).map { _ in Float((rng.nextUnit() * 2 - 1) * scale) }
    }

    /// Five AdamW steps on 37 parameters (vector blocks and a tail), with clipping scale and weight
    /// decay, against the update written out in Float64 (PyTorch's AdamW, decoupled decay).
    @Test(arguments: builds, [Float(0), 0.1])
    func adamwFollowsItsDefinition(_ build: Int, _ decay: Float) {
        let n = 37
        var w = Self.values(n, seed: 1), m1 = [Float](repeating: 0, count: n), m2 = m1
        var wd = w.map(Double.init), m1d = [Double](repeating: 0, count: n), m2d = m1d
        let (b1, b2, lr, eps, scale): (Float, Float, Float, Float, Float) = (0.9, 0.999, 1e-2, 1e-8, 0.7)
        for t in 1 ... 5 {
            let g = Self.values(n, seed: UInt64(10 + t))
            let c1 = 1 - Float.pow(b1, Float(t)), c2 = 1 - Float.pow(b2, Float(t))
            CVectorMath_adamwIn(Int32(build), &w, g, &m1, &m2, n, scale, b1, b2, c1, c2, lr, eps, decay)
            for i in 0 ..< n {
                let gi = Double(scale) * Double(g[i])
                m1d[i] = Double(b1) * m1d[i] + (1 - Double(b1)) * gi
                m2d[i] = Double(b2) * m2d[i] + (1 - Double(b2)) * gi * gi
                wd[i] -= Double(lr) * ((m1d[i] / Double(c1)) / ((m2d[i] / Double(c2)).squareRoot() + Double(eps)) + Double(decay) * wd[i])
            }
        }
        for i in 0 ..< n {
            #expect(abs(Double(w[i]) - wd[i]) <= 1e-5, "w[\(i)] \(w[i]) vs \(wd[i])")
            #expect(abs(Double(m1[i]) - m1d[i]) <= 1e-6 && abs(Double(m2[i]) - m2d[i]) <= 1e-6)
        }
    }

    @Test(arguments: builds, [0, 1, 15, 16, 17, 40_000])
    func sumOfSquaresMatchesTheDoublePrecisionSum(_ build: Int, _ n: Int) {
        let x = Self.values(n, seed: UInt64(n) + 3, scale: 2)
        let reference = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        let s = Double(CVectorMath_sumSquaresIn(Int32(build), x, n))
        #expect(abs(s - reference) <= 1e-5 * max(reference, 1), "\(s) vs \(reference)")
    }

    /// The bias gradient 1ᵀG: the same sums in the same order as a plain loop over rows, so
    /// bit-identical to it.
    @Test(arguments: builds, [(1, 1), (3, 7), (256, 200), (256, 12), (5, 33)])
    func columnSumsAreTheRowByRowSums(_ build: Int, _ shape: (Int, Int)) {
        let (rows, cols) = shape
        let g = Self.values(rows * cols, seed: 7)
        var out = [Float](repeating: .nan, count: cols), expected = [Float](repeating: 0, count: cols)
        CVectorMath_columnSumsIn(Int32(build), g, &out, rows, cols)
        for r in 0 ..< rows { for j in 0 ..< cols { expected[j] += g[r * cols + j] } }
        #expect(out == expected)
    }

    @Test func broadcastRowsCopiesTheBiasIntoEveryRow() {
        let b: [Float] = [1, 2, 3]
        var z = [Float](repeating: 0, count: 12)
        CVectorMath_broadcastRows(b, &z, 4, 3)
        #expect(z == b + b + b + b)
    }
}

/// `EnsembleTrainingRun`: the members it trains do not depend on how many threads share the run
/// or on the chunk size, and each is the plain sequence of `MLPTrainer.step`s on its own draws.
@Suite struct EnsembleTrainingRunTests {
    static let widths = [4, 16, 16, 3]
    static let count = 300  // two batches of 128 and one of 44 per epoch

    static func data() -> ([Float], [Float]) {
        var rng = SplitMix64(seed: 4)
        let x = (0 ..< count * widths[0]).map { _ in Float(rng.nextUnit() * 2 - 1) }
        var y = [Float](repeating: 0, count: count * widths.last!)
        for s in 0 ..< count { for o in 0 ..< widths.last! { y[s * widths.last! + o] = sin(x[s * widths[0] + o]) + 0.3 * x[s * widths[0] + 3] } }
        return (x, y)
    }

    static func ensemble(_ x: [Float], _ y: [Float]) -> MLPEnsemble {
        var options = MLPTrainer.Options()
        options.batchSize = 128
        let e = MLPEnsemble(widths: widths, activation: .silu, members: 5, options: options, seed: 2)
        e.fitNormalisers(inputs: x, outputs: y, count: count)
        return e
    }

    @Test func twoThreadsAndAnyChunkTrainTheSameMembersAsOne() {
        let (x, y) = Self.data()
        let one = Self.ensemble(x, y)
        EnsembleTrainingRun(ensemble: one, members: Array(0 ..< 5), inputs: x, outputs: y, count: Self.count, epochs: 3, seed: 9).work()
        for chunk in [1, 2, 5] {
            let two = Self.ensemble(x, y)
            let run = EnsembleTrainingRun(ensemble: two, members: Array(0 ..< 5), inputs: x, outputs: y, count: Self.count, epochs: 3,
                                          seed: 9, chunk: chunk)
            let done = DispatchSemaphore(value: 0)
            Thread { run.work(); done.signal() }.start()
            run.work()
            done.wait()
            for m in 0 ..< 5 { #expect(two.members[m].mlp == one.members[m].mlp, "member \(m), chunk \(chunk)") }
        }
        #expect(one.members[0].mlp != Self.ensemble(x, y).members[0].mlp, "training changed the weights")
    }

    /// Member m of a run is `MLPTrainer.step` on batches drawn from `SplitMix64(seed + m·0x9E3779B9)`,
    /// epoch by epoch, the last batch of an epoch the remainder.
    @Test func eachMemberIsItsOwnSequenceOfSteps() {
        let (x, y) = Self.data()
        let e = Self.ensemble(x, y)
        EnsembleTrainingRun(ensemble: e, members: [1, 3], inputs: x, outputs: y, count: Self.count, epochs: 2, seed: 9, chunk: 2).work()
        let reference = Self.ensemble(x, y)
        for m in [1, 3] {
            var rng = SplitMix64(seed: 9 &+ UInt64(m) &* 0x9E37_79B9)
            for _ in 0 ..< 2 {
                var done = 0
                while done < Self.count {
                    let n = min(128, Self.count - done)
                    let batch = (0 ..< n).map { _ in Int(rng.next() % UInt64(Self.count)) }
                    x.withUnsafeBufferPointer { xb in
                        y.withUnsafeBufferPointer { yb in
                            _ = batch.withUnsafeBufferPointer { reference.members[m].step(inputs: xb.baseAddress!, outputs: yb.baseAddress!, indices: $0) }
                        }
                    }
                    done += n
                }
            }
            #expect(e.members[m].mlp == reference.members[m].mlp, "member \(m)")
        }
        #expect(e.members[0].mlp == reference.members[0].mlp, "a member not in the run is untouched")
    }

    @Test func stoppingEndsTheRunForEveryWorker() {
        let (x, y) = Self.data()
        let e = Self.ensemble(x, y)
        var asked = 0
        let run = EnsembleTrainingRun(ensemble: e, members: Array(0 ..< 5), inputs: x, outputs: y, count: Self.count, epochs: 50, seed: 1)
        run.work { asked += 1; return asked > 4 }
        #expect(asked == 5, "asked before every mini-batch, four steps taken")
        let afterStop = e.members.map(\.mlp)
        run.work()  // a worker arriving after the stop takes nothing
        #expect(e.members.map(\.mlp) == afterStop)
    }
}
