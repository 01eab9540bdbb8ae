import LinearAlgebra
import Synchronization

/// One training run of an ensemble's members, shared out to any number of worker threads in
/// chunks of consecutive mini-batches of one member (`work()`, called by whoever owns threads).
///
/// Why chunks rather than members per thread: members are independent but each member's steps are
/// sequential, so five members on two threads split 3 + 2 and the second thread idles a fifth of
/// the run. Handing out chunks of a few steps, each to the free member with the most steps left,
/// keeps every worker busy until the last chunk; a member's working set (weights, moments,
/// activations, ~1.8 MB for 18 → 200³ → 12 at batch 256) is reloaded from L3 once per chunk, a
/// small cost against the chunk's GEMMs.
///
/// Results do not depend on the number of workers or on the schedule: member m draws its
/// bootstrap batches from its own generator (seeded from `seed` and m) and its steps run in
/// order, one worker at a time, so the trained members are bit-identical however the run is split.
///
/// Threading contract: any number of threads may call `work()` at once; a member is touched by
/// one of them at a time (handed over under the lock, which orders its memory). The members must
/// not be used otherwise until every `work()` has returned.
public final class EnsembleTrainingRun: @unchecked Sendable {
    private struct Member {
        let index: Int
        var stepsLeft: Int
        var busy = false
        var rng: SplitMix64
        var lastLoss: Float = 0
    }

    private let ensemble: MLPEnsemble
    private let inputs: [Float]
    private let outputs: [Float]
    private let count: Int
    private let stepsPerEpoch: Int
    private let totalSteps: Int
    private let batchSize: Int
    private let chunk: Int
    private let state: Mutex<(members: [Member], stopped: Bool)>

    /// - Parameters:
    ///   - members: indices into `ensemble.members` to train (their normalisers already fitted).
    ///   - count: samples in `inputs`/`outputs` (row-major).
    ///   - epochs: passes of `count` bootstrap draws per member, in batches of the members' batch size.
    ///   - seed: member m's draws come from `SplitMix64(seed: seed &+ m &* 0x9E3779B9)`.
    ///   - chunk: consecutive steps of one member per hand-out.
    /// - Warning: Not real-time safe.
    public init(ensemble: MLPEnsemble, members chosen: [Int], inputs: [Float], outputs: [Float], count: Int, epochs: Int,
                seed: UInt64, chunk: Int = 8) {
        precondition(count > 0 && epochs > 0 && chunk > 0, "positive count, epochs and chunk")
        precondition(Set(chosen).count == chosen.count && chosen.allSatisfy { ensemble.members.indices.contains($0) },
                     "distinct member indices")
        self.ensemble = ensemble
        self.inputs = inputs
        self.outputs = outputs
        self.count = count
        self.chunk = chunk
        let batchSize = ensemble.members[0].options.batchSize
        let stepsPerEpoch = (count + batchSize - 1) / batchSize
        self.batchSize = batchSize
        self.stepsPerEpoch = stepsPerEpoch
        totalSteps = stepsPerEpoch * epochs
        let members = chosen.map { Member(index: $0, stepsLeft: stepsPerEpoch * epochs, rng: SplitMix64(seed: seed &+ UInt64($0) &* 0x9E37_79B9)) }
        state = Mutex((members, false))
    }

    /// Trains chunks until none is left to take (or `shouldStop` answered true, asked before every
    /// mini-batch; the members are then part-trained). Returns when this worker finds no free member
    /// with steps left: the last chunks of a member another worker holds stay with that worker.
    /// - Warning: Not real-time safe.
    public func work(shouldStop: () -> Bool = { false }) {
        var batch = [Int](repeating: 0, count: batchSize)
        while true {
            // Take the free member with the most steps left, and up to `chunk` of its steps.
            let taken: (slot: Int, member: Int, first: Int, steps: Int, rng: SplitMix64)? = state.withLock { s in
                guard !s.stopped else { return nil }
                var best = -1
                for k in s.members.indices where !s.members[k].busy && s.members[k].stepsLeft > 0 {
                    if best < 0 || s.members[k].stepsLeft > s.members[best].stepsLeft { best = k }
                }
                guard best >= 0 else { return nil }
                s.members[best].busy = true
                let m = s.members[best]
                return (best, m.index, totalSteps - m.stepsLeft, min(chunk, m.stepsLeft), m.rng)
            }
            guard let taken else { return }
            var rng = taken.rng
            var loss: Float?
            var done = 0
            let trainer = ensemble.members[taken.member]
            inputs.withUnsafeBufferPointer { x in
                outputs.withUnsafeBufferPointer { y in
                    for s in taken.first ..< taken.first + taken.steps {
                        if shouldStop() { return }
                        let n = min(batchSize, count - (s % stepsPerEpoch) * batchSize)
                        for i in 0 ..< n { batch[i] = Int(rng.next() % UInt64(count)) }
                        loss = batch.withUnsafeBufferPointer {
                            trainer.step(inputs: x.baseAddress!, outputs: y.baseAddress!, indices: UnsafeBufferPointer(rebasing: $0[0 ..< n]))
                        }
                        done += 1
                    }
                }
            }
            let stop = done < taken.steps
            state.withLock { s in
                s.members[taken.slot].busy = false
                s.members[taken.slot].stepsLeft -= done
                s.members[taken.slot].rng = rng
                if let loss { s.members[taken.slot].lastLoss = loss }
                if stop { s.stopped = true }
            }
            if stop { return }
        }
    }

    /// The sum over the members of their last mini-batch loss (normalised MSE before that step).
    public var lastLossSum: Float { state.withLock { $0.members.reduce(0) { $0 + $1.lastLoss } } }
}
