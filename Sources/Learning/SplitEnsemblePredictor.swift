import CVectorMath
import Synchronization

/// Single-input ensemble prediction on two cores: every layer of every member is split by rows,
/// the calling thread computing the first part and a helper thread (`serve()`, run by whoever
/// owns threads) the second, meeting after each layer.
///
/// Why: five 18 → 200 → 200 → 200 → 12 members are 1.7 MB of weights, more than one core's L2
/// (1 MB on the machines this was measured on), so a one-core pass streams them from the shared
/// L3 every call, at the L3's speed and at the mercy of whatever else uses it. Split by rows, each
/// core touches the same 0.86 MB every call, which stays in its own L2.
///
/// The helper is optional at every call: a job it has not claimed by the time the caller has
/// finished its own part of the first layer is taken back by the caller and finished alone, so a
/// sleeping, busy or absent helper costs one single-core pass. Once claimed, the two meet after
/// each layer, spinning: a helper descheduled after claiming stalls the caller until it runs
/// again.
///
/// Results are bit-identical to `MLPEnsemble.predict` / `MLP.forward`: each output row is the
/// same sum in the same order, whichever thread computes it.
///
/// Threading contract: one caller thread (`predict`) and one helper thread (`serve`), on
/// different CPUs, the helper at the caller's scheduling priority or above. Two threads sharing
/// a CPU still compute correct results but wait for each other a time slice per layer, and a
/// SCHED_FIFO caller spinning on the CPU its helper needs would never let it run.
public final class SplitEnsemblePredictor: @unchecked Sendable {
    public let members: [MLP]
    private let layers: Int
    /// Per layer, the first row of the helper's part: a multiple of 16 (a 64-byte line of
    /// outputs) near the middle, so the two cores never write the same cache line; the whole
    /// width (no helper part) for layers under 32 outputs.
    private let split: UnsafeMutablePointer<Int>
    /// Per member m, per layer ℓ (index m·(layers + 1) + ℓ): the input of layer ℓ (ℓ = 0: the
    /// normalised input) up to ℓ = layers (the output), each on its own cache line.
    private let activations: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let storage: UnsafeMutableRawPointer
    private let scratch: UnsafeMutablePointer<Float>
    /// Per part p, member m and layer ℓ (index (p·members + m)·layers + ℓ): that part's rows of
    /// the layer's weights and biases, copied into `packed`. Each part's rows of every layer of
    /// every member lie together in huge-page-backed memory, so each core's half is one
    /// physically contiguous block, which its L2 holds evenly. Raw pointers because the helper
    /// thread must not touch reference counts the caller touches too: the two cores would pass
    /// the counts' cache lines back and forth on every layer.
    private let weights: UnsafeMutablePointer<UnsafePointer<Float>>
    private let biases: UnsafeMutablePointer<UnsafePointer<Float>>
    private let packed: UnsafeMutableRawPointer
    private let widths: UnsafeMutablePointer<Int>
    private let activation: Activation
    private let memberCount: Int

    /// The last job posted (caller) and the last job claimed (by the helper or, taking it back,
    /// the caller): job g is the helper's to run only if it moves `claimed` from g − 1 to g.
    private let posted = PaddedAtomic()
    private let claimed = PaddedAtomic()
    /// Each side's progress through job g: g·layers + ℓ + 1 once layer ℓ's part is written.
    private let callerProgress = PaddedAtomic()
    private let helperProgress = PaddedAtomic()
    /// Jobs the helper took part in (for benchmarks and tests).
    private let helped = PaddedAtomic()

    /// Whether the caller finishes a job alone when the helper has not claimed it by the end of
    /// the caller's part of the first layer (always, outside tests: false makes the caller wait
    /// for a helper, so tests can run the split path deterministically on a busy machine).
    let takesBackUnclaimedJobs: Bool

    /// - Warning: Not real-time safe (allocates).
    public convenience init(members: [MLP]) { self.init(members: members, takesBackUnclaimedJobs: true) }

    init(members: [MLP], takesBackUnclaimedJobs: Bool) {
        self.takesBackUnclaimedJobs = takesBackUnclaimedJobs
        precondition(!members.isEmpty, "at least one member")
        let widths = members[0].widths
        precondition(members.allSatisfy { $0.widths == widths && $0.activation == members[0].activation },
                     "members share one architecture")
        self.members = members
        layers = widths.count - 1
        memberCount = members.count
        activation = members[0].activation
        self.widths = .allocate(capacity: widths.count)
        self.widths.initialize(from: widths, count: widths.count)
        // Layers narrower than two cache lines of outputs stay whole with the caller: split, the
        // two cores would write one line.
        let splitAt = (1 ... layers).map { widths[$0] >= 32 ? (widths[$0] + 16) / 32 * 16 : widths[$0] }
        split = .allocate(capacity: layers)
        split.initialize(from: splitAt, count: layers)
        func line(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        func rows(_ part: Int, _ l: Int) -> Range<Int> { part == 0 ? 0 ..< splitAt[l] : splitAt[l] ..< widths[l + 1] }
        // Part 0's blocks, then part 1's, each block on a cache line.
        var floats = 0
        for part in 0 ..< 2 {
            for _ in members.indices {
                for l in 0 ..< layers { floats += line(rows(part, l).count * widths[l]) + line(rows(part, l).count) }
            }
        }
        guard let region = CVectorMath_allocateLarge(UInt(max(floats, 1) * MemoryLayout<Float>.stride)) else {
            fatalError("SplitEnsemblePredictor: out of memory for \(floats) weights")
        }
        packed = region
        let packedFloats = region.bindMemory(to: Float.self, capacity: max(floats, 1))
        weights = .allocate(capacity: 2 * members.count * layers)
        biases = .allocate(capacity: 2 * members.count * layers)
        var at = 0
        for part in 0 ..< 2 {
            for (m, mlp) in members.enumerated() {
                for l in 0 ..< layers {
                    let r = rows(part, l), nIn = widths[l], index = (part * members.count + m) * layers + l
                    let w = packedFloats + at
                    at += line(r.count * nIn)
                    let b = packedFloats + at
                    at += line(r.count)
                    mlp.withLayer(l) { sw, sb in
                        w.update(from: sw.baseAddress! + r.lowerBound * nIn, count: r.count * nIn)
                        b.update(from: sb.baseAddress! + r.lowerBound, count: r.count)
                    }
                    (weights + index).initialize(to: UnsafePointer(w))
                    (biases + index).initialize(to: UnsafePointer(b))
                }
            }
        }
        let perMember = widths.reduce(0) { $0 + line($1) }
        let total = members.count * perMember + members.count * widths.last!
        storage = UnsafeMutableRawPointer.allocate(byteCount: total * MemoryLayout<Float>.stride, alignment: 64)
        let base = storage.bindMemory(to: Float.self, capacity: total)
        base.initialize(repeating: 0, count: total)
        var offset = 0
        activations = .allocate(capacity: members.count * widths.count)
        for m in members.indices {
            for (l, w) in widths.enumerated() {
                (activations + m * widths.count + l).initialize(to: base + offset)
                offset += line(w)
            }
        }
        scratch = base + offset
    }

    deinit {
        storage.deallocate()
        CVectorMath_freeLarge(packed)
        weights.deallocate()
        biases.deallocate()
        widths.deallocate()
        split.deallocate()
        activations.deallocate()
    }

    @inline(__always)
    private func activation(member m: Int, layer l: Int) -> UnsafeMutablePointer<Float> { activations[m * (layers + 1) + l] }

    /// Jobs so far in which the helper computed its part.
    public var helpedCount: Int { helped.value.load(ordering: .relaxed) }

    /// Mean over members into `mean`, the members' variance (disagreement) into `variance`, as
    /// `MLPEnsemble.predict`.
    /// - Note: No allocation, no locks; spins while a helper that has claimed the job finishes a
    ///   layer (bounded only if the helper keeps its CPU: see the threading contract).
    public func predict(_ input: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        for (m, mlp) in members.enumerated() { mlp.normaliseInput(input, into: activation(member: m, layer: 0)) }
        // The caller is `posted`'s only writer: its own last value is the last job.
        let g = posted.value.load(ordering: .relaxed) + 1
        posted.value.store(g, ordering: .releasing)
        run(part: 0, layer: 0)
        callerProgress.value.store(g * layers + 1, ordering: .releasing)
        let alone: Bool
        if takesBackUnclaimedJobs {
            alone = claimed.value.compareExchange(expected: g - 1, desired: g, ordering: .acquiringAndReleasing).exchanged
        } else {
            while claimed.value.load(ordering: .acquiring) < g { CVectorMath_spinHint() }
            alone = false
        }
        if alone {
            // Not claimed: the helper is away. Finish alone.
            run(part: 1, layer: 0)
            for l in 1 ..< layers {
                run(part: 0, layer: l)
                run(part: 1, layer: l)
            }
        } else {
            for l in 1 ..< layers {
                wait(for: helperProgress, toReach: g * layers + l)
                run(part: 0, layer: l)
                callerProgress.value.store(g * layers + l + 1, ordering: .releasing)
            }
            wait(for: helperProgress, toReach: g * layers + layers)
        }
        let d = members[0].outputSize, k = members.count
        for (m, mlp) in members.enumerated() { mlp.denormaliseOutput(activation(member: m, layer: layers), into: scratch + m * d) }
        MLPEnsemble.meanAndVariance(of: scratch, members: k, outputs: d, mean: mean, variance: variance)
    }

    /// The helper's side: if a job is waiting and the caller has not taken it back, claims it,
    /// computes its part of every layer and returns true; otherwise returns false at once (the
    /// owner decides whether to poll again, yield or sleep).
    /// - Note: Real-time safe: no allocation, no locks.
    public func serve() -> Bool {
        // Job g waits exactly while `claimed` is g − 1 (neither side has taken it).
        let g = posted.value.load(ordering: .acquiring)
        guard claimed.value.load(ordering: .relaxed) == g - 1,
              claimed.value.compareExchange(expected: g - 1, desired: g, ordering: .acquiringAndReleasing).exchanged else {
            CVectorMath_spinHint()
            return false
        }
        for l in 0 ..< layers {
            if l > 0 { wait(for: callerProgress, toReach: g * layers + l) }
            run(part: 1, layer: l)
            helperProgress.value.store(g * layers + l + 1, ordering: .releasing)
        }
        helped.value.add(1, ordering: .relaxed)
        return true
    }

    @inline(__always)
    private func wait(for progress: PaddedAtomic, toReach value: Int) {
        while progress.value.load(ordering: .acquiring) < value { CVectorMath_spinHint() }
    }

    /// Rows of layer ℓ in `part` (0: below the split, 1: from it) for every member: the same
    /// sums, row by row, as `MLP.forward`.
    @inline(__always)
    private func run(part: Int, layer l: Int) {
        let nIn = widths[l], lo = part == 0 ? 0 : split[l], hi = part == 0 ? split[l] : widths[l + 1]
        guard hi > lo else { return }
        let hidden = l < layers - 1
        for m in 0 ..< memberCount {
            let out = activation(member: m, layer: l + 1) + lo, index = (part * memberCount + m) * layers + l
            CVectorMath_gemvBias(weights[index], activation(member: m, layer: l), biases[index], out, hi - lo, nIn)
            if hidden { activation.apply(out, into: out, count: hi - lo) }
        }
    }
}

/// An atomic counter alone on its cache line (with 64 bytes of padding on each side, whatever
/// the allocation's alignment): the two threads of a `SplitEnsemblePredictor` each poll what the
/// other writes, and a counter sharing a line with anything else written would make every poll a
/// transfer between cores. Stored properties of a class are laid out in declaration order.
final class PaddedAtomic: Sendable {
    private let before: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    let value = Atomic<Int>(0)
    private let after: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
}
