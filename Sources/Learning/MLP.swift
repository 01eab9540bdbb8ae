import CVectorMath
import LinearAlgebra
import RealModule

/// Elementwise nonlinearities between the linear layers.
public enum Activation: String, Sendable, CaseIterable {
    case relu
    case silu
    case tanh
    case identity

    @inline(__always)
    func apply(_ x: Float) -> Float {
        switch self {
        case .relu: max(0, x)
        case .silu: Self.silu(x)
        case .tanh: Float.tanh(x)
        case .identity: x
        }
    }

    /// The vector kernel on one value, so that scalar and vector SiLU are one definition.
    @inline(__always)
    private static func silu(_ x: Float) -> Float {
        var v = x
        return withUnsafeMutablePointer(to: &v) { p in
            CVectorMath_silu(p, p, 1)
            return p.pointee
        }
    }

    /// dσ/dx at pre-activation x.
    @inline(__always)
    func derivative(_ x: Float) -> Float {
        switch self {
        case .relu:
            return x > 0 ? 1 : 0
        case .silu:
            var z = x, g: Float = 1
            CVectorMath_siluGradient(&z, &g, 1)
            return g
        case .tanh:
            let t = Float.tanh(x)
            return 1 - t * t
        case .identity:
            return 1
        }
    }

    /// h[i] = σ(z[i]) for i < n; `h` is `z` (in place) or disjoint from it. SiLU runs
    /// vectorised in `CVectorMath` (its e^x is within 1.5 ulp of libm's; one libm call per
    /// element was a quarter of a single-input forward pass).
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    func apply(_ z: UnsafePointer<Float>, into h: UnsafeMutablePointer<Float>, count n: Int) {
        switch self {
        case .silu: CVectorMath_silu(z, h, n)
        default: for i in 0 ..< n { h[i] = apply(z[i]) }
        }
    }

    /// g[i] *= σ′(z[i]) for i < n (g and z disjoint).
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    func multiplyDerivative(_ g: UnsafeMutablePointer<Float>, at z: UnsafePointer<Float>, count n: Int) {
        switch self {
        case .silu: CVectorMath_siluGradient(z, g, n)
        default: for i in 0 ..< n { g[i] *= derivative(z[i]) }
        }
    }
}

/// A multilayer perceptron y = W_L σ(… σ(W_1 x + b_1) …) + b_L in Float32, with PyTorch's
/// `nn.Sequential(Linear, act, Linear, act, …, Linear)` layout: layer ℓ's weight is out × in,
/// row-major (`2ℓ.weight`), its bias `2ℓ.bias`. Optional input and output normalisers:
/// x̃ = (x − μ_in)/σ_in fed to the network, y = μ_out + σ_out·ỹ returned.
public struct MLP: Sendable, Equatable {
    /// Layer widths, input first: [in, h₁, …, out].
    public let widths: [Int]
    public let activation: Activation
    /// All layers' weights and biases, each block on its own cache line (`Parameters`).
    private var parameters: Parameters
    /// The input scale of an ignored input (finite, so files and PyTorch take it): any physical
    /// value divided by it is 0 to Float32 precision.
    public static let ignoredInputScale: Float = 1e30
    public var inputMean: [Float]
    public var inputScale: [Float]
    public var outputMean: [Float]
    public var outputScale: [Float]

    public var inputSize: Int { widths.first! }
    public var outputSize: Int { widths.last! }
    public var layerCount: Int { widths.count - 1 }
    public var parameterCount: Int { (0 ..< layerCount).reduce(0) { $0 + widths[$1 + 1] * (widths[$1] + 1) } }

    /// Weights drawn as PyTorch's default `nn.Linear` init (uniform ±1/√fan_in), seeded.
    public init(widths: [Int], activation: Activation, seed: UInt64 = 1) {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 }, "an MLP has an input and an output width")
        self.widths = widths
        self.activation = activation
        var rng = SplitMix64(seed: seed)
        func uniform() -> Float { Float(rng.nextUnit()) * 2 - 1 }
        var w: [[Float]] = [], b: [[Float]] = []
        for l in 0 ..< widths.count - 1 {
            let bound = 1 / Float(widths[l]).squareRoot()
            w.append((0 ..< widths[l] * widths[l + 1]).map { _ in bound * uniform() })
            b.append((0 ..< widths[l + 1]).map { _ in bound * uniform() })
        }
        parameters = Parameters(widths: widths, weights: w, biases: b)
        inputMean = Array(repeating: 0, count: widths.first!)
        inputScale = Array(repeating: 1, count: widths.first!)
        outputMean = Array(repeating: 0, count: widths.last!)
        outputScale = Array(repeating: 1, count: widths.last!)
    }

    /// An MLP from given parameters; returns nil when shapes disagree with `widths`.
    public init?(widths: [Int], activation: Activation, weights: [[Float]], biases: [[Float]]) {
        guard widths.count >= 2, weights.count == widths.count - 1, biases.count == widths.count - 1 else { return nil }
        for l in 0 ..< widths.count - 1 {
            guard weights[l].count == widths[l] * widths[l + 1], biases[l].count == widths[l + 1] else { return nil }
        }
        self.widths = widths
        self.activation = activation
        parameters = Parameters(widths: widths, weights: weights, biases: biases)
        inputMean = Array(repeating: 0, count: widths.first!)
        inputScale = Array(repeating: 1, count: widths.first!)
        outputMean = Array(repeating: 0, count: widths.last!)
        outputScale = Array(repeating: 1, count: widths.last!)
    }

    /// Re-expresses the network for new normalisers without changing the function it computes.
    /// With x̃ = (x − m)/s the old and x̂ = (x − m′)/s′ the new normalised input, x̃ = (s′x̂ + m′ − m)/s, so
    ///
    ///   W₀′[o, i] = W₀[o, i] s′ᵢ/sᵢ,   b₀′[o] = b₀[o] + Σᵢ W₀[o, i](m′ᵢ − mᵢ)/sᵢ
    ///
    /// and with y = μ + σ z the old and y = μ′ + σ′ z′ the new output map, z′ = (μ − μ′ + σ z)/σ′:
    ///
    ///   W_L′[o, :] = W_L[o, :] σₒ/σ′ₒ,   b_L′[o] = (b_L[o] σₒ + μₒ − μ′ₒ)/σ′ₒ.
    ///
    /// An input whose new scale is `ignoredInputScale` gets a zero column (its contribution is
    /// frozen at its new mean, where the data says it sits).
    public mutating func renormalise(inputMean m2: [Float], inputScale s2: [Float], outputMean mu2: [Float], outputScale sigma2: [Float]) {
        precondition(m2.count == inputSize && s2.count == inputSize && mu2.count == outputSize && sigma2.count == outputSize,
                     "one normaliser entry per input and per output")
        let nIn = inputSize, nHidden = widths[1], nOut = outputSize
        let (m1, s1, mu1, sigma1) = (inputMean, inputScale, outputMean, outputScale)
        withMutableLayer(0) { w0, b0 in
            for o in 0 ..< nHidden {
                var shift = 0.0
                for i in 0 ..< nIn {
                    let w = w0[o * nIn + i]
                    shift += Double(w) * Double(m2[i] - m1[i]) / Double(s1[i])
                    w0[o * nIn + i] = s2[i] >= MLP.ignoredInputScale ? 0 : Float(Double(w) * Double(s2[i]) / Double(s1[i]))
                }
                b0[o] += Float(shift)
            }
        }
        let L = layerCount - 1, nPrev = widths[L]
        withMutableLayer(L) { wL, bL in
            for o in 0 ..< nOut {
                let r = sigma1[o] / sigma2[o]
                for j in 0 ..< nPrev { wL[o * nPrev + j] *= r }
                bL[o] = (bL[o] * sigma1[o] + mu1[o] - mu2[o]) / sigma2[o]
            }
        }
        inputMean = m2
        inputScale = s2
        outputMean = mu2
        outputScale = sigma2
    }

    /// Per layer: weights (out × in, row-major). A copy; assigning one replaces every layer's.
    /// - Warning: Not real-time safe (allocates).
    public var weights: [[Float]] {
        get { (0 ..< layerCount).map { Array(UnsafeBufferPointer(start: parameters.weights($0), count: widths[$0] * widths[$0 + 1])) } }
        set {
            precondition(newValue.count == layerCount && newValue.indices.allSatisfy { newValue[$0].count == widths[$0] * widths[$0 + 1] },
                         "one out × in weight matrix per layer")
            for l in 0 ..< layerCount { withMutableLayer(l) { w, _ in _ = w.update(from: newValue[l]) } }
        }
    }

    /// Per layer: biases (out). A copy; assigning one replaces every layer's.
    /// - Warning: Not real-time safe (allocates).
    public var biases: [[Float]] {
        get { (0 ..< layerCount).map { Array(UnsafeBufferPointer(start: parameters.biases($0), count: widths[$0 + 1])) } }
        set {
            precondition(newValue.count == layerCount && newValue.indices.allSatisfy { newValue[$0].count == widths[$0 + 1] },
                         "one bias vector per layer")
            for l in 0 ..< layerCount { withMutableLayer(l) { _, b in _ = b.update(from: newValue[l]) } }
        }
    }

    /// Layer ℓ's weights (out × in, row-major) and biases, read in place.
    /// - Note: Real-time safe: no allocation, no locks.
    public func withLayer<R>(_ l: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: parameters.weights(l), count: widths[l] * widths[l + 1]),
                 UnsafeBufferPointer(start: parameters.biases(l), count: widths[l + 1]))
    }

    /// Layer ℓ's weights and biases, written in place (the storage is copied first if another
    /// MLP value shares it: value semantics as with arrays).
    public mutating func withMutableLayer<R>(_ l: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&parameters) { parameters = Parameters(copying: parameters) }
        return try body(UnsafeMutableBufferPointer(start: parameters.weights(l), count: widths[l] * widths[l + 1]),
                        UnsafeMutableBufferPointer(start: parameters.biases(l), count: widths[l + 1]))
    }

    public static func == (a: MLP, b: MLP) -> Bool {
        guard a.widths == b.widths, a.activation == b.activation, a.inputMean == b.inputMean, a.inputScale == b.inputScale,
              a.outputMean == b.outputMean, a.outputScale == b.outputScale else { return false }
        return (0 ..< a.layerCount).allSatisfy { l in
            a.withLayer(l) { wa, ba in b.withLayer(l) { wb, bb in wa.elementsEqual(wb) && ba.elementsEqual(bb) } }
        }
    }

    public func makeWorkspace() -> MLPWorkspace { MLPWorkspace(widths: widths) }

    /// y = f(x) for one input, with the normalisers.
    /// - Note: Real-time safe: no allocation, no locks (after `makeWorkspace`).
    public func forward(_ ws: inout MLPWorkspace, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        propagate(input, ws.a, ws.b, output: output) { _, _, _ in }
    }

    /// The forward pass through the normalisers, ping-ponging between the scratch buffers `a`
    /// and `b` (each as wide as the widest layer); `record(ℓ, z, n)` sees layer ℓ's n
    /// pre-activations before the nonlinearity.
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    private func propagate(_ input: UnsafePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                           output: UnsafeMutablePointer<Float>, record: (Int, UnsafeMutablePointer<Float>, Int) -> Void) {
        normaliseInput(input, into: a)
        var src = a, dst = b
        for l in 0 ..< layerCount {
            let nIn = widths[l], nOut = widths[l + 1]
            CVectorMath_gemvBias(parameters.weights(l), src, parameters.biases(l), dst, nOut, nIn)
            record(l, dst, nOut)
            if l < layerCount - 1 { activation.apply(dst, into: dst, count: nOut) }
            swap(&src, &dst)
        }
        denormaliseOutput(src, into: output)
    }

    /// x̃ = (x − μ_in)/σ_in. - Note: Real-time safe.
    @inline(__always)
    func normaliseInput(_ input: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        for i in 0 ..< inputSize { x[i] = (input[i] - inputMean[i]) / inputScale[i] }
    }

    /// y = μ_out + σ_out·ỹ. - Note: Real-time safe.
    @inline(__always)
    func denormaliseOutput(_ z: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        for i in 0 ..< outputSize { y[i] = outputMean[i] + outputScale[i] * z[i] }
    }


    /// ∂y/∂x (out × in, row-major) at `input`, through the normalisers (the allocating form of
    /// `jacobian(_:input:output:jacobian:)`).
    /// - Warning: Not real-time safe (allocates a workspace and the result).
    public func jacobian(at input: [Float]) -> [Float] {
        var ws = makeJacobianWorkspace()
        var y = [Float](repeating: 0, count: outputSize), J = [Float](repeating: 0, count: outputSize * inputSize)
        input.withUnsafeBufferPointer { jacobian(&ws, input: $0.baseAddress!, output: &y, jacobian: &J) }
        return J
    }
}

/// An MLP's weights and biases in one 64-byte-aligned block, each layer's weight matrix and bias
/// vector starting on a cache line. Why not `[[Float]]`: an array's elements sit 32 bytes past a
/// 16-byte-aligned allocation, so half the 32-byte loads of a single-input pass straddle two
/// cache lines; for the 1.7 MB dynamics ensemble that cost a fifth of its prediction time.
/// Written only through `MLP.withMutableLayer`, which copies a shared instance first, so an
/// instance two MLP values share is never written (hence `@unchecked Sendable`).
final class Parameters: @unchecked Sendable {
    private let base: UnsafeMutablePointer<Float>
    private let weightOffset: [Int]
    private let biasOffset: [Int]
    private let count: Int

    init(widths: [Int]) {
        func line(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        var w: [Int] = [], b: [Int] = [], end = 0
        for l in 0 ..< widths.count - 1 {
            w.append(end)
            end += line(widths[l] * widths[l + 1])
            b.append(end)
            end += line(widths[l + 1])
        }
        weightOffset = w
        biasOffset = b
        count = max(end, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        base.initialize(repeating: 0, count: count)
    }

    convenience init(widths: [Int], weights: [[Float]], biases: [[Float]]) {
        self.init(widths: widths)
        for l in weights.indices {
            _ = UnsafeMutableBufferPointer(start: self.weights(l), count: weights[l].count).update(fromContentsOf: weights[l])
            _ = UnsafeMutableBufferPointer(start: self.biases(l), count: biases[l].count).update(fromContentsOf: biases[l])
        }
    }

    init(copying other: Parameters) {
        weightOffset = other.weightOffset
        biasOffset = other.biasOffset
        count = other.count
        base = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        base.initialize(from: other.base, count: count)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    @inline(__always) func weights(_ l: Int) -> UnsafeMutablePointer<Float> { base + weightOffset[l] }
    @inline(__always) func biases(_ l: Int) -> UnsafeMutablePointer<Float> { base + biasOffset[l] }
}

/// Two ping-pong activation buffers as wide as the widest layer.
public struct MLPWorkspace: @unchecked Sendable {
    let a: UnsafeMutablePointer<Float>
    let b: UnsafeMutablePointer<Float>
    let storage: ManagedBuffer<Int, Float>

    init(widths: [Int]) {
        let w = widths.max()!
        storage = ManagedBuffer<Int, Float>.create(minimumCapacity: 2 * w) { _ in 2 * w }
        let base = storage.withUnsafeMutablePointerToElements { $0 }
        base.initialize(repeating: 0, count: 2 * w)
        a = base
        b = base + w
    }
}

/// Scratch for `MLP.jacobian(_:input:into:)`: per-layer pre-activations and two Jacobian
/// buffers (widest layer × `stride`, the inputs rounded up to whole 8-float vectors; the padding
/// columns carry their own products, 0 while the weights are finite, and are never read out).
public struct MLPJacobianWorkspace: @unchecked Sendable {
    let pre: [UnsafeMutablePointer<Float>]
    let h: UnsafeMutablePointer<Float>
    let j0: UnsafeMutablePointer<Float>
    let j1: UnsafeMutablePointer<Float>
    let stride: Int
    private let owner: Owner

    final class Owner {
        var pointers: [UnsafeMutablePointer<Float>] = []
        deinit { for p in pointers { p.deallocate() } }
    }

    public init(widths: [Int]) {
        let owner = Owner()
        func make(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            owner.pointers.append(p)
            return p
        }
        let w = widths.max()!
        pre = widths.dropFirst().map { make($0) }
        h = make(2 * w)
        stride = (widths[0] + 7) / 8 * 8
        j0 = make(w * stride)
        j1 = make(w * stride)
        self.owner = owner
    }
}

extension MLP {
    public func makeJacobianWorkspace() -> MLPJacobianWorkspace { MLPJacobianWorkspace(widths: widths) }

    /// y = f(x) into `output` and ∂y/∂x (out × in, row-major) into `jacobian`, through the
    /// normalisers: forward keeping pre-activations, then J_ℓ = W_ℓ·diag(σ'(z_{ℓ−1}))·J_{ℓ−1}
    /// from the input side (J₀ = diag(1/σ_in)).
    /// - Note: Real-time safe: no allocation, no locks.
    public func jacobian(_ ws: inout MLPJacobianWorkspace, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                         jacobian out: UnsafeMutablePointer<Float>) {
        let nIn0 = inputSize
        let pre = ws.pre
        propagate(input, ws.h, ws.h + widths.max()!, output: output) { l, z, n in pre[l].update(from: z, count: n) }

        var jPrev = ws.j0, jNext = ws.j1
        // J₀ = W₀ diag(1/σ_in), the reciprocals in the forward pass's scratch (done with it).
        let ld = ws.stride, w0 = parameters.weights(0), inverseScale = ws.h
        inputScale.withUnsafeBufferPointer { for c in 0 ..< nIn0 { inverseScale[c] = 1 / $0[c] } }
        for r in 0 ..< widths[1] {
            for c in 0 ..< nIn0 { jPrev[r * ld + c] = w0[r * nIn0 + c] * inverseScale[c] }
        }
        for l in 1 ..< layerCount {
            // σ′(z) per row into the forward pass's scratch (done with it by now), then
            // J_next = W_ℓ diag(σ′) J_prev.
            let nIn = widths[l], d = ws.h
            for r in 0 ..< nIn { d[r] = 1 }
            activation.multiplyDerivative(d, at: ws.pre[l - 1], count: nIn)
            CVectorMath_gemmScaledRows(parameters.weights(l), d, jPrev, jNext, widths[l + 1], nIn, ld)
            swap(&jPrev, &jNext)
        }
        for r in 0 ..< outputSize { for c in 0 ..< nIn0 { out[r * nIn0 + c] = outputScale[r] * jPrev[r * ld + c] } }
    }
}
