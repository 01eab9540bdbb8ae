@testable import Learning
import LinearAlgebra
import Testing

@Suite struct TrainingTests {
    /// The batched sgemm backward pass against central differences of the loss computed in
    /// Float64 from the same weights, for every layer's weights, each activation, and both heads:
    /// MSE, and the probabilistic head's Gaussian NLL ½((μ − y)² e^{−l} + l) with l the bounded
    /// log-variance (PETS).
    @Test(arguments: [(Activation.tanh, false), (.silu, false), (.relu, false), (.tanh, true), (.silu, true)])
    func weightGradientsMatchFiniteDifferences(_ activation: Activation, _ gaussian: Bool) {
        let widths = [3, 8, 6, gaussian ? 4 : 2], d = 2, B = 4
        let mlp = MLP(widths: widths, activation: activation, seed: 5)
        var options = MLPTrainer.Options()
        options.batchSize = B
        options.clipNorm = 0
        options.gaussianHead = gaussian
        let trainer = MLPTrainer(mlp: mlp, options: options)
        let x: [Float] = [0.1, -0.3, 0.5, 0.7, 0.2, -0.1, -0.4, 0.9, 0.3, 0.0, -0.6, 0.8]
        let y: [Float] = [0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.0, 0.6]
        func act(_ v: Double) -> Double {
            switch activation {
            case .tanh: Foundation_tanh(v)
            case .silu: v / (1 + Foundation_exp(-v))
            case .relu: max(0, v)
            case .identity: v
            }
        }
        func softplus(_ v: Double) -> Double { v > 20 ? v : Foundation_log(1 + Foundation_exp(v)) }
        let weights = mlp.weights.map { $0.map(Double.init) }, biases = mlp.biases.map { $0.map(Double.init) }
        func loss(_ w: [[Double]]) -> Double {
            var total = 0.0
            for s in 0 ..< B {
                var h = (0 ..< 3).map { Double(x[s * 3 + $0]) }
                for l in 0 ..< widths.count - 1 {
                    h = (0 ..< widths[l + 1]).map { o in
                        let z = biases[l][o] + (0 ..< widths[l]).reduce(0.0) { $0 + w[l][o * widths[l] + $1] * h[$1] }
                        return l < widths.count - 2 ? act(z) : z
                    }
                }
                for j in 0 ..< d {
                    let e = h[j] - Double(y[s * d + j])
                    if gaussian {
                        let maxL = Double(MLPTrainer.maxLogVariance), minL = Double(MLPTrainer.minLogVariance)
                        let logVariance = minL + softplus(maxL - softplus(maxL - h[d + j]) - minL)
                        total += 0.5 * (e * e * Foundation_exp(-logVariance) + logVariance)
                    } else {
                        total += e * e
                    }
                }
            }
            return total / Double(B * d)
        }
        let analytic = x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                (0 ..< B).map { $0 }.withUnsafeBufferPointer { trainer.step(inputs: xb.baseAddress!, outputs: yb.baseAddress!, indices: $0) }
            }
        }
        #expect(abs(Double(analytic) - loss(weights)) < 1e-5, "loss \(analytic) vs \(loss(weights))")
        let h = 1e-5
        for l in 0 ..< widths.count - 1 {
            let grad = trainer.lastWeightGradient(layer: l)
            for i in 0 ..< weights[l].count {
                var wp = weights, wm = weights
                wp[l][i] += h
                wm[l][i] -= h
                let fd = (loss(wp) - loss(wm)) / (2 * h)
                #expect(abs(Double(grad[i]) - fd) <= 1e-4 * max(1, abs(fd)) + 1e-5, "\(activation) gaussian \(gaussian) ∂L/∂W\(l)[\(i)]: \(grad[i]) vs FD \(fd)")
            }
        }
    }

    /// One AdamW step against its definition (PyTorch's `AdamW`, Loshchilov & Hutter): with
    /// bias-corrected moments m̂ = g, v̂ = g² after the first step,
    /// w′ = w(1 − η λ) − η g/(|g| + ε), from the gradient the same step computed.
    @Test func anAdamWStepIsTheDefinitionsStep() {
        let mlp = MLP(widths: [3, 8, 2], activation: .tanh, seed: 5)
        var options = MLPTrainer.Options()
        options.batchSize = 4
        options.clipNorm = 0
        options.learningRate = 0.01
        options.weightDecay = 0.1
        let trainer = MLPTrainer(mlp: mlp, options: options)
        let x: [Float] = [0.1, -0.3, 0.5, 0.7, 0.2, -0.1, -0.4, 0.9, 0.3, 0.0, -0.6, 0.8]
        let y: [Float] = [0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.0, 0.6]
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                _ = [0, 1, 2, 3].withUnsafeBufferPointer { trainer.step(inputs: xb.baseAddress!, outputs: yb.baseAddress!, indices: $0) }
            }
        }
        let eta = Double(options.learningRate), lambda = Double(options.weightDecay), eps = Double(options.epsilon)
        for l in 0 ..< 2 {
            let g = trainer.lastWeightGradient(layer: l), before = mlp.weights[l], after = trainer.mlp.weights[l]
            for i in before.indices {
                let w = Double(before[i]), gi = Double(g[i])
                let expected = w * (1 - eta * lambda) - eta * gi / (abs(gi) + eps)
                #expect(abs(Double(after[i]) - expected) <= 1e-6, "W\(l)[\(i)]: \(after[i]) vs \(expected)")
            }
        }
    }

    /// Five members on bootstrap resamples recover y = sin(2x) on the data's range, and disagree
    /// far more where there was no data.
    @Test func anEnsembleRecoversAFunctionAndKnowsWhereItHasNoData() {
        let count = 512
        var inputs = [Float](), outputs = [Float]()
        for i in 0 ..< count {
            let x = -1.5 + 3 * Float(i) / Float(count - 1)
            inputs.append(x)
            outputs.append(Float(Foundation_sin(Double(2 * x))))
        }
        var options = MLPTrainer.Options()
        options.batchSize = 64
        options.learningRate = 3e-3
        let ensemble = MLPEnsemble(widths: [1, 64, 64, 1], activation: .tanh, members: 5, options: options, seed: 3)
        ensemble.train(inputs: inputs, outputs: outputs, count: count, epochs: 150)
        var mean: Float = 0, variance: Float = 0
        var worst: Float = 0, spreadIn: Float = 0
        for x in stride(from: Float(-1.4), through: 1.4, by: 0.1) {
            ensemble.predict([x], mean: &mean, variance: &variance)
            worst = max(worst, abs(mean - Float(Foundation_sin(Double(2 * x)))))
            spreadIn = max(spreadIn, variance)
        }
        #expect(worst < 0.05, "max error on the data's range \(worst)")
        ensemble.predict([5], mean: &mean, variance: &variance)
        #expect(variance > 10 * spreadIn, "disagreement off the data \(variance) vs on it \(spreadIn)")
    }
}

// Float64 reference math without importing Foundation into the test's namespace twice.
import Foundation
func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
func Foundation_exp(_ x: Double) -> Double { exp(x) }
func Foundation_log(_ x: Double) -> Double { log(x) }
func Foundation_sin(_ x: Double) -> Double { sin(x) }

@Suite struct GaussianHeadTests {
    /// y = x + ε with σ(x) = 0.05 + 0.2|x|: the probabilistic head learns the noise level (the
    /// aleatoric part) — small near 0, large at the edges — while the mean stays on y = x.
    @Test func learnsHeteroscedasticNoise() {
        var rng = SplitMix64(seed: 9)
        func gaussian() -> Float { Float(rng.nextGaussian()) }
        let count = 4096
        var inputs = [Float](), outputs = [Float]()
        for _ in 0 ..< count {
            let x = Float(rng.nextUnit()) * 2 - 1
            inputs.append(x)
            outputs.append(x + (0.05 + 0.2 * abs(x)) * gaussian())
        }
        var options = MLPTrainer.Options()
        options.batchSize = 128
        options.learningRate = 2e-3
        options.gaussianHead = true
        let ensemble = MLPEnsemble(widths: [1, 32, 32, 2], activation: .silu, members: 3, options: options, seed: 4)
        ensemble.train(inputs: inputs, outputs: outputs, count: count, epochs: 80)
        var mean: Float = 0, aleatoric: Float = 0, epistemic: Float = 0
        // (At the kink x = 0 a smooth network averages over both sides; check where σ is smooth.)
        var learned: [Float] = []
        for (x, sigma) in [(Float(0.3), Float(0.05 + 0.06)), (-0.3, 0.05 + 0.06), (0.9, 0.05 + 0.18), (-0.9, 0.05 + 0.18)] {
            ensemble.predictGaussian([x], mean: &mean, aleatoric: &aleatoric, epistemic: &epistemic)
            #expect(abs(mean - x) < 0.05, "mean at \(x): \(mean)")
            let s = aleatoric.squareRoot()
            #expect(abs(s - sigma) < 0.35 * sigma, "noise σ at \(x): learned \(s), true \(sigma)")
            #expect(epistemic < aleatoric, "on the data, the members agree more than the noise")
            learned.append(s)
        }
        #expect(learned[2] > 1.5 * learned[0] && learned[3] > 1.5 * learned[1], "σ grows with |x|: \(learned)")
    }
}
