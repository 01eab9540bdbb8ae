import AllocationCounter
import BuildInfo
import Foundation
@testable import Learning
import LinearAlgebra
import Synchronization
import Testing

/// Two-core ensemble prediction against the one-core `MLPEnsemble.predict`: the same sums row by
/// row, so the results must be identical bit for bit, whether the helper takes part in every
/// job, in some, or in none.
/// Serialized: each test's helper spins on a CPU, and on a 2-core machine several at once
/// would mostly wait for each other.
@Suite(.serialized) struct SplitEnsemblePredictorTests {
    static func members(_ widths: [Int], count: Int = 5) -> [MLP] {
        (0 ..< count).map { k in
            var m = MLP(widths: widths, activation: .silu, seed: 11 &+ UInt64(k))
            // Every member its own normalisers (a mix-up between members would show).
            m.inputMean = (0 ..< widths[0]).map { Float($0 + k) * 0.01 }
            m.inputScale = (0 ..< widths[0]).map { 0.5 + Float(($0 + k) % 3) }
            m.outputMean = (0 ..< widths.last!).map { Float($0 - k) * -0.02 }
            m.outputScale = (0 ..< widths.last!).map { 0.1 + Float(($0 + k) % 4) }
            return m
        }
    }

    static func reference(_ members: [MLP]) -> MLPEnsemble {
        let e = MLPEnsemble(continuing: members)
        e.prepareForPrediction()
        return e
    }

    /// Runs `serve()` on its own thread until stopped; `nap` makes it miss jobs now and then.
    final class Helper: @unchecked Sendable {
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        init(_ predictor: SplitEnsemblePredictor, nap: Bool = false) {
            Thread { [self] in
                var n = 0, idle = 0
                while !stop.load(ordering: .relaxed) {
                    if predictor.serve() {
                        n += 1
                        idle = 0
                        if nap, n % 7 == 3 { usleep(50) }
                    } else {
                        // Polling without work for a while: let other tests' threads run.
                        idle += 1
                        if idle % 4096 == 0 { sched_yield() }
                    }
                }
                done.signal()
            }.start()
        }
        func finish() {
            stop.store(true, ordering: .relaxed)
            done.wait()
        }
    }

    /// Predicts `calls` random inputs both ways. `waitForHelper`: every job is shared (the caller
    /// waits for the helper's claim instead of taking the job back), so the split path runs
    /// whatever the machine's load.
    func compare(_ widths: [Int], calls: Int, helper: Bool, nap: Bool = false, waitForHelper: Bool = false) -> Int {
        let members = Self.members(widths)
        let reference = Self.reference(members)
        let split = SplitEnsemblePredictor(members: members, takesBackUnclaimedJobs: !waitForHelper)
        let h = helper ? Helper(split, nap: nap) : nil
        let d = widths.last!
        var rng = SplitMix64(seed: 3)
        var x = [Float](repeating: 0, count: widths[0])
        var m1 = [Float](repeating: 0, count: d), v1 = m1, m2 = m1, v2 = m1
        var mismatches = 0
        for _ in 0 ..< calls {
            for i in x.indices { x[i] = Float(rng.nextUnit()) * 4 - 2 }
            reference.predict(x, mean: &m1, variance: &v1)
            split.predict(x, mean: &m2, variance: &v2)
            if m1 != m2 || v1 != v2 { mismatches += 1 }
        }
        h?.finish()
        #expect(mismatches == 0, "\(mismatches) of \(calls) predictions differ from the one-core ensemble")
        return split.helpedCount
    }

    @Test func sharedJobsAreIdentical() {
        #expect(compare([18, 200, 200, 200, 12], calls: 1000, helper: true, waitForHelper: true) == 1000)
    }

    @Test func withoutAHelperTheCallerFinishesAlone() {
        #expect(compare([18, 200, 200, 200, 12], calls: 200, helper: false) == 0)
    }

    /// Jobs shared or taken back as the race between the two threads goes (how many of each
    /// depends on the machine's load): every result identical.
    @Test func aHelperThatComesAndGoesNeverChangesAResult() {
        _ = compare([18, 200, 200, 200, 12], calls: 3000, helper: true, nap: true)
    }

    /// Widths that are not multiples of the kernel's 4 rows or 8 columns, and layers too narrow
    /// to split.
    @Test func oddWidths() {
        #expect(compare([7, 45, 33, 3], calls: 500, helper: true, waitForHelper: true) == 500)
        // No layer wide enough to split: the helper claims each job and computes nothing.
        #expect(compare([3, 17, 2], calls: 200, helper: true, waitForHelper: true) == 200)
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func predictAllocatesNothing() {
        let split = SplitEnsemblePredictor(members: Self.members([18, 200, 200, 200, 12]))
        let helper = Helper(split)
        let x = [Float](repeating: 0.3, count: 18)
        var m = [Float](repeating: 0, count: 12), v = m
        split.predict(x, mean: &m, variance: &v)
        x.withUnsafeBufferPointer { xb in
            m.withUnsafeMutableBufferPointer { mb in
                v.withUnsafeMutableBufferPointer { vb in
                    AllocationCounter_start()
                    for _ in 0 ..< 200 { split.predict(xb.baseAddress!, mean: mb.baseAddress!, variance: vb.baseAddress!) }
                    #expect(AllocationCounter_stop() == 0)
                }
            }
        }
        helper.finish()
    }
}
