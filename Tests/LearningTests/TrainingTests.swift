@testable import Learning
import Testing

@Suite struct TrainingTests {
    /// The batched sgemm backward pass against central differences of the loss computed in
    /// Float64 from the same weights.
    @Test func weightGradientsMatchFiniteDifferences() {
        let mlp = MLP(widths: [3, 8, 2], activation: .tanh, seed: 5)
        var options = MLPTrainer.Options()
        options.batchSize = 4
        options.clipNorm = 0
        let trainer = MLPTrainer(mlp: mlp, options: options)
        let x: [Float] = [0.1, -0.3, 0.5, 0.7, 0.2, -0.1, -0.4, 0.9, 0.3, 0.0, -0.6, 0.8]
        let y: [Float] = [0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.0, 0.6]
        func loss(_ w0: [Double]) -> Double {
            var total = 0.0
            for s in 0 ..< 4 {
                var hidden = [Double](repeating: 0, count: 8)
                for j in 0 ..< 8 {
                    var v = Double(mlp.biases[0][j])
                    for i in 0 ..< 3 { v += w0[j * 3 + i] * Double(x[s * 3 + i]) }
                    hidden[j] = Foundation_tanh(v)
                }
                for o in 0 ..< 2 {
                    var v = Double(mlp.biases[1][o])
                    for j in 0 ..< 8 { v += Double(mlp.weights[1][o * 8 + j]) * hidden[j] }
                    let e = v - Double(y[s * 2 + o])
                    total += e * e
                }
            }
            return total / 8
        }
        let w0 = mlp.weights[0].map(Double.init)
        let analytic = x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                [0, 1, 2, 3].withUnsafeBufferPointer { trainer.step(inputs: xb.baseAddress!, outputs: yb.baseAddress!, indices: $0) }
            }
        }
        #expect(abs(Double(analytic) - loss(w0)) < 1e-5)
        let grad = trainer.lastWeightGradient(layer: 0)
        let h = 1e-5
        for i in 0 ..< 24 {
            var wp = w0, wm = w0
            wp[i] += h; wm[i] -= h
            let fd = (loss(wp) - loss(wm)) / (2 * h)
            #expect(abs(Double(grad[i]) - fd) <= 1e-4 * max(1, abs(fd)) + 1e-5, "∂L/∂W₀[\(i)]: \(grad[i]) vs FD \(fd)")
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
