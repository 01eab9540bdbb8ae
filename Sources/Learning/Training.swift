import CVectorMath
import LinearAlgebra
import RealModule

/// Mini-batch training of an `MLP` on mean squared error, batched through sgemm:
///
///   forward   Z_ℓ = H_{ℓ−1} W_ℓᵀ + 1 b_ℓᵀ,  H_ℓ = σ(Z_ℓ)  (the last layer linear), H₀ = X̃ (B × in)
///   loss      L = 1/(B·out) Σ (Ŷ − Ỹ)²  on normalised targets Ỹ = (Y − μ_out)/σ_out
///   backward  G_L = 2/(B·out) (Ŷ − Ỹ);  ∂L/∂W_ℓ = G_ℓᵀ H_{ℓ−1},  ∂L/∂b_ℓ = 1ᵀG_ℓ,
///             G_{ℓ−1} = (G_ℓ W_ℓ) ⊙ σ'(Z_{ℓ−1})
///   update    AdamW (decoupled weight decay) after clipping the global gradient norm.
///
/// All buffers are allocated once for the batch size; a step allocates nothing.
public final class MLPTrainer {
    public struct Options: Sendable {
        public var batchSize = 256
        public var learningRate: Float = 1e-3
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 1e-4
        /// Global gradient-norm clip; 0 = none.
        public var clipNorm: Float = 10
        /// Probabilistic head (PETS): the network's 2d outputs are a mean and a bounded log-variance
        /// per target, trained on the Gaussian negative log-likelihood instead of MSE.
        public var gaussianHead = false
        /// Smallest input scale the normaliser fits (input units). Raise it when an input barely
        /// varies in the data but may vary at prediction time (a joint that stood still): a
        /// scale of 1e-6 would blow a small change up to a huge, untrained network input.
        public var inputScaleFloor: Float = 1e-6
        /// Standard deviation of Gaussian noise added to each normalised training input (0 =
        /// none). Training on jittered inputs penalises the network's input Jacobian (Bishop
        /// 1995: noise injection ≈ Tikhonov regularisation), so where the data is a thin manifold
        /// — one trajectory, repeated — the network stays flat across it instead of taking
        /// arbitrary slopes that a planner would exploit.
        public var inputNoise: Float = 0
        /// Inputs whose standard deviation in the data is below this (input units) are ignored:
        /// their scale becomes `MLP.ignoredInputScale`, so they reach the network as 0 whatever
        /// their value. A joint that never moved in the data says nothing about its effect, and a
        /// network free to take any slope along it hands a planner an imaginary lever. 0 = off.
        public var ignoreInputsBelow: Float = 0
        public init() {}
    }

    /// Bounds of the head's log-variance (normalised units), applied smoothly as in PETS:
    /// l = min + softplus(max − softplus(max − s) − min).
    public static let maxLogVariance: Float = 0.5
    public static let minLogVariance: Float = -10

    @inline(__always)
    static func softplus(_ x: Float) -> Float { x > 20 ? x : Float.log(1 + Float.exp(x)) }
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Float.exp(-x)) }

    /// The bounded log-variance of raw head output `s`, and dl/ds.
    @inline(__always)
    public static func boundedLogVariance(_ s: Float) -> (Float, Float) {
        let l1 = maxLogVariance - softplus(maxLogVariance - s)
        let l = minLogVariance + softplus(l1 - minLogVariance)
        return (l, sigmoid(l1 - minLogVariance) * sigmoid(maxLogVariance - s))
    }

    /// Per-target normaliser of a probabilistic head (the MLP's own output normaliser then
    /// covers the mean half and leaves the log-variance half as is).
    public private(set) var targetMean: [Float] = []
    public private(set) var targetScale: [Float] = []

    public private(set) var mlp: MLP
    public let options: Options
    private var step = 0
    private let widths: [Int]
    // Per layer: pre-activations Z (B × out), activations H (B × out), gradients.
    private var z: [UnsafeMutablePointer<Float>] = []
    private var h: [UnsafeMutablePointer<Float>] = []
    private var g: [UnsafeMutablePointer<Float>] = []
    private var input: UnsafeMutablePointer<Float>
    private var target: UnsafeMutablePointer<Float>
    private var gradW: [UnsafeMutablePointer<Float>] = []
    private var gradB: [UnsafeMutablePointer<Float>] = []
    private var m1W: [UnsafeMutablePointer<Float>] = [], m2W: [UnsafeMutablePointer<Float>] = []
    private var m1B: [UnsafeMutablePointer<Float>] = [], m2B: [UnsafeMutablePointer<Float>] = []
    private var allocations: [(UnsafeMutablePointer<Float>, Int)] = []
    /// Draws the input noise: each ensemble member its own sequence (diversity is the point).
    private var noise: SplitMix64

    /// - Warning: Not real-time safe (allocates the batch buffers).
    public init(mlp: MLP, options: Options = Options(), noiseSeed: UInt64 = 0x5EED) {
        self.mlp = mlp
        noise = SplitMix64(seed: noiseSeed)
        self.options = options
        widths = mlp.widths
        let B = options.batchSize
        func make(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        input = make(B * widths[0])
        target = make(B * widths.last!)
        var all: [(UnsafeMutablePointer<Float>, Int)] = [(input, 0), (target, 0)]
        for l in 0 ..< widths.count - 1 {
            let nIn = widths[l], nOut = widths[l + 1]
            for (list, size) in [(0, B * nOut), (1, B * nOut), (2, B * nOut)] {
                let p = make(size)
                all.append((p, 0))
                switch list {
                case 0: z.append(p)
                case 1: h.append(p)
                default: g.append(p)
                }
            }
            for k in 0 ..< 3 {
                let pw = make(nIn * nOut), pb = make(nOut)
                all.append((pw, 0)); all.append((pb, 0))
                switch k {
                case 0: gradW.append(pw); gradB.append(pb)
                case 1: m1W.append(pw); m1B.append(pb)
                default: m2W.append(pw); m2B.append(pb)
                }
            }
        }
        allocations = all
    }

    deinit { for (p, _) in allocations { p.deallocate() } }

    /// Fits the input and output normalisers to data (row-major samples) — mean and standard
    /// deviation per feature, with a floor so constant features do not divide by zero.
    ///
    /// With `preservingFunction` (continuing from trained weights, MSE heads) the first and last
    /// layers are re-expressed for the new normalisers so that the network computes the same
    /// function as before (`MLP.renormalise`); inputs that become ignored drop out exactly at
    /// their new mean. Otherwise the weights are left as they are.
    public func fitNormalisers(inputs: [Float], outputs: [Float], count: Int, preservingFunction: Bool = false) {
        let before = mlp
        func stats(_ x: [Float], _ d: Int, floor: Float = 1e-6) -> ([Float], [Float]) {
            var mean = [Float](repeating: 0, count: d), varsum = [Float](repeating: 0, count: d)
            for s in 0 ..< count { for i in 0 ..< d { mean[i] += x[s * d + i] } }
            for i in 0 ..< d { mean[i] /= Float(count) }
            for s in 0 ..< count { for i in 0 ..< d { let e = x[s * d + i] - mean[i]; varsum[i] += e * e } }
            return (mean, varsum.map { max(($0 / Float(max(1, count - 1))).squareRoot(), floor) })
        }
        (mlp.inputMean, mlp.inputScale) = stats(inputs, widths[0], floor: 0)
        for i in 0 ..< widths[0] {
            let std = mlp.inputScale[i]
            mlp.inputScale[i] = std < options.ignoreInputsBelow ? MLP.ignoredInputScale : max(std, options.inputScaleFloor, 1e-6)
        }
        if options.gaussianHead {
            let d = widths.last! / 2
            (targetMean, targetScale) = stats(outputs, d)
            mlp.outputMean = targetMean + [Float](repeating: 0, count: d)
            mlp.outputScale = targetScale + [Float](repeating: 1, count: d)
        } else {
            (mlp.outputMean, mlp.outputScale) = stats(outputs, widths.last!)
            targetMean = mlp.outputMean
            targetScale = mlp.outputScale
        }
        if preservingFunction, !options.gaussianHead {
            let fitted = mlp
            mlp = before
            mlp.renormalise(inputMean: fitted.inputMean, inputScale: fitted.inputScale,
                            outputMean: fitted.outputMean, outputScale: fitted.outputScale)
        }
    }

    /// One optimisation step on the samples `indices` (≤ batch size) of row-major `inputs` and
    /// `outputs`; returns the batch loss (normalised MSE) before the step.
    /// - Note: Allocates nothing.
    @discardableResult
    public func step(inputs: UnsafePointer<Float>, outputs: UnsafePointer<Float>, indices: UnsafeBufferPointer<Int>) -> Float {
        let B = indices.count
        precondition(B >= 1 && B <= options.batchSize, "batch of 1…\(options.batchSize) samples")
        let nIn0 = widths[0], nOutL = widths.last!, L = widths.count - 1
        let d = options.gaussianHead ? nOutL / 2 : nOutL
        if targetMean.count != d {
            targetMean = Array(mlp.outputMean.prefix(d))
            targetScale = Array(mlp.outputScale.prefix(d))
        }
        let sigma = options.inputNoise
        for (r, s) in indices.enumerated() {
            mlp.normaliseInput(inputs + s * nIn0, into: input + r * nIn0)
            if sigma > 0 { for i in 0 ..< nIn0 { input[r * nIn0 + i] += sigma * Float(noise.nextGaussian()) } }
            for i in 0 ..< d { target[r * d + i] = (outputs[s * d + i] - targetMean[i]) / targetScale[i] }
        }
        // Forward.
        for l in 0 ..< L {
            let nIn = widths[l], nOut = widths[l + 1]
            let src = l == 0 ? UnsafePointer(input) : UnsafePointer(h[l - 1])
            mlp.withLayer(l) { w, b in
                CVectorMath_broadcastRows(b.baseAddress!, z[l], B, nOut)
                SBLAS.gemm(m: B, n: nOut, k: nIn, a: src, b: w.baseAddress!, transB: true, beta: 1, c: z[l])
            }
            let act = mlp.activation, zl = z[l], hl = h[l]
            if l < L - 1 { act.apply(zl, into: hl, count: B * nOut) } else { hl.update(from: zl, count: B * nOut) }
        }
        // Loss and its gradient.
        var loss: Float = 0
        let out = h[L - 1], gL = g[L - 1]
        if options.gaussianHead {
            // L = 1/(B·d) Σ ½((μ − y)² e^{−l} + l): ∂L/∂μ = (μ − y) e^{−l}/(B·d),
            // ∂L/∂l = ½(1 − (μ − y)² e^{−l})/(B·d), then through the bounds to the raw output.
            let n = Float(B * d)
            for r in 0 ..< B {
                for j in 0 ..< d {
                    let mu = out[r * nOutL + j], raw = out[r * nOutL + d + j]
                    let (l, dl) = Self.boundedLogVariance(raw)
                    let e = mu - target[r * d + j], inv = Float.exp(-l)
                    loss += 0.5 * (e * e * inv + l)
                    gL[r * nOutL + j] = e * inv / n
                    gL[r * nOutL + d + j] = 0.5 * (1 - e * e * inv) * dl / n
                }
            }
            loss /= n
        } else {
            let scale = 2 / Float(B * nOutL)
            for i in 0 ..< B * nOutL {
                let e = out[i] - target[i]
                loss += e * e
                gL[i] = scale * e
            }
            loss /= Float(B * nOutL)
        }
        // Backward.
        for l in stride(from: L - 1, through: 0, by: -1) {
            let nIn = widths[l], nOut = widths[l + 1]
            let src = l == 0 ? UnsafePointer(input) : UnsafePointer(h[l - 1])
            SBLAS.gemm(m: nOut, n: nIn, k: B, a: g[l], transA: true, b: src, c: gradW[l])
            CVectorMath_columnSums(g[l], gradB[l], B, nOut)
            if l > 0 {
                let prev = g[l - 1], zp = z[l - 1], act = mlp.activation
                mlp.withLayer(l) { w, _ in
                    SBLAS.gemm(m: B, n: nIn, k: nOut, a: g[l], b: w.baseAddress!, c: prev)
                }
                act.multiplyDerivative(prev, at: zp, count: B * nIn)
            }
        }
        // Clip and AdamW, one vectorised pass per parameter block (CVectorMath).
        var norm2: Float = 0
        for l in 0 ..< L {
            norm2 += CVectorMath_sumSquares(gradW[l], widths[l] * widths[l + 1]) + CVectorMath_sumSquares(gradB[l], widths[l + 1])
        }
        let clip: Float = options.clipNorm > 0 && norm2.squareRoot() > options.clipNorm ? options.clipNorm / norm2.squareRoot() : 1
        step += 1
        let b1 = options.beta1, b2 = options.beta2
        let c1 = 1 - Float.pow(b1, Float(step)), c2 = 1 - Float.pow(b2, Float(step))
        let lr = options.learningRate, eps = options.epsilon, wd = options.weightDecay
        for l in 0 ..< L {
            let nIn = widths[l], nOut = widths[l + 1]
            let gw = gradW[l], m1 = m1W[l], m2 = m2W[l], gbv = gradB[l], mb1 = m1B[l], mb2 = m2B[l]
            mlp.withMutableLayer(l) { w, b in
                CVectorMath_adamw(w.baseAddress!, gw, m1, m2, nIn * nOut, clip, b1, b2, c1, c2, lr, eps, wd)
                CVectorMath_adamw(b.baseAddress!, gbv, mb1, mb2, nOut, clip, b1, b2, c1, c2, lr, eps, 0)
            }
        }
        return loss
    }

    /// ∂L/∂W of the last `step` (before the update), for gradient checks.
    func lastWeightGradient(layer: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: gradW[layer], count: widths[layer] * widths[layer + 1]))
    }
}

/// K MLPs trained on bootstrap resamples of the same data (PETS-style, MSE heads): the mean is
/// the prediction, the spread across members (epistemic disagreement) says where the data ran
/// out.
public final class MLPEnsemble {
    public private(set) var members: [MLPTrainer]
    private var workspaces: [MLPWorkspace]
    private let scratch: UnsafeMutablePointer<Float>
    private var rng: UInt64
    /// Members are evaluated in alternating order call to call: the members the previous call
    /// touched last are still in this core's L2 (1 MB here, against 1.7 MB for 5 × 18→200³→12),
    /// and a fixed cyclic order over more than the cache evicts each before its reuse.
    private var descending = false

    /// Fresh members, each its own seeded PyTorch-style initialisation.
    public convenience init(widths: [Int], activation: Activation, members count: Int = 5, options: MLPTrainer.Options = .init(), seed: UInt64 = 1) {
        precondition(count >= 1, "at least one member")
        self.init(continuing: (0 ..< count).map { MLP(widths: widths, activation: activation, seed: seed &+ UInt64($0) &* 7919) },
                  options: options, seed: seed)
    }

    /// Continues training from `members` (a warm start): their weights and normalisers are kept,
    /// the optimiser's moments start from zero.
    public init(continuing members: [MLP], options: MLPTrainer.Options = .init(), seed: UInt64 = 1) {
        precondition(!members.isEmpty, "at least one member")
        self.members = members.indices.map { MLPTrainer(mlp: members[$0], options: options, noiseSeed: seed &+ UInt64($0) &* 104_729) }
        workspaces = members.map { $0.makeWorkspace() }
        scratch = .allocate(capacity: members.count * members[0].outputSize)
        rng = seed
    }

    deinit { scratch.deallocate() }

    /// `epochs` passes over `count` samples: each member draws its own bootstrap resample
    /// (sampling with replacement) and trains on it in mini-batches. Returns the mean final batch loss.
    /// - Warning: Not real-time safe.
    /// With `continuing` (a warm start) the normalisers are refitted to the data while the
    /// members keep computing what they computed (`MLPTrainer.fitNormalisers(preservingFunction:)`).
    /// `shouldStop` is asked before every mini-batch; once it answers true training stops there
    /// (the members are left part-trained: discard them).
    @discardableResult
    public func train(inputs: [Float], outputs: [Float], count: Int, epochs: Int, continuing: Bool = false,
                      shouldStop: () -> Bool = { false }) -> Float {
        for m in members { m.fitNormalisers(inputs: inputs, outputs: outputs, count: count, preservingFunction: continuing) }
        let last = train(members: Array(members.indices), inputs: inputs, outputs: outputs, count: count, epochs: epochs, seed: rng,
                         shouldStop: shouldStop)
        workspaces = members.map { $0.mlp.makeWorkspace() }
        return last / Float(members.count)
    }

    /// Trains only `members` (indices) on the calling thread, each with its own bootstrap draws
    /// from `seed` (`EnsembleTrainingRun`: the same members whichever threads train them); callers
    /// may run disjoint member sets on different threads, or share one `EnsembleTrainingRun`
    /// between threads (normalisers must already be fitted). Returns the sum of their final batch losses.
    /// - Warning: Not real-time safe.
    public func train(members chosen: [Int], inputs: [Float], outputs: [Float], count: Int, epochs: Int, seed: UInt64,
                      shouldStop: () -> Bool = { false }) -> Float {
        let run = EnsembleTrainingRun(ensemble: self, members: chosen, inputs: inputs, outputs: outputs, count: count,
                                      epochs: epochs, seed: seed)
        run.work(shouldStop: shouldStop)
        return run.lastLossSum
    }

    /// Fits every member's normalisers to the data. - Warning: Not real-time safe.
    public func fitNormalisers(inputs: [Float], outputs: [Float], count: Int) {
        for m in members { m.fitNormalisers(inputs: inputs, outputs: outputs, count: count) }
    }

    /// Rebuilds the prediction workspaces after training. - Warning: Not real-time safe.
    public func prepareForPrediction() { workspaces = members.map { $0.mlp.makeWorkspace() } }

    /// For probabilistic-head members: the mean over members of their means, the mean of their
    /// predicted (aleatoric) variances, and the variance of their means (epistemic disagreement),
    /// all in target units (d values each).
    /// - Note: Real-time safe: no allocation, no locks.
    public func predictGaussian(_ input: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                aleatoric: UnsafeMutablePointer<Float>, epistemic: UnsafeMutablePointer<Float>) {
        let out = members[0].mlp.outputSize, d = out / 2, k = members.count
        for (i, m) in members.enumerated() { m.mlp.forward(&workspaces[i], input: input, output: scratch + i * out) }
        for j in 0 ..< d {
            var s: Float = 0, a: Float = 0
            for i in 0 ..< k {
                s += scratch[i * out + j]
                let scale = members[i].targetScale.isEmpty ? 1 : members[i].targetScale[j]
                a += Float.exp(MLPTrainer.boundedLogVariance(scratch[i * out + d + j]).0) * scale * scale
            }
            let mu = s / Float(k)
            var v: Float = 0
            for i in 0 ..< k { let e = scratch[i * out + j] - mu; v += e * e }
            mean[j] = mu
            aleatoric[j] = a / Float(k)
            epistemic[j] = v / Float(k)
        }
    }

    /// Per output j of k members' outputs (k × d, row-major): the mean and the population
    /// variance over the members (the disagreement). - Note: Real-time safe.
    @inline(__always)
    static func meanAndVariance(of outputs: UnsafePointer<Float>, members k: Int, outputs d: Int,
                                mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        for j in 0 ..< d {
            var s: Float = 0
            for i in 0 ..< k { s += outputs[i * d + j] }
            let mu = s / Float(k)
            var v: Float = 0
            for i in 0 ..< k { let e = outputs[i * d + j] - mu; v += e * e }
            mean[j] = mu
            variance[j] = v / Float(k)
        }
    }

    /// Mean over members into `mean`, and the members' variance (disagreement) into `variance`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func predict(_ input: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        let d = members[0].mlp.outputSize, k = members.count
        descending.toggle()
        for n in 0 ..< k {
            let i = descending ? k - 1 - n : n
            members[i].mlp.forward(&workspaces[i], input: input, output: scratch + i * d)
        }
        Self.meanAndVariance(of: scratch, members: k, outputs: d, mean: mean, variance: variance)
    }
}
