import Foundation
import Learning
import Platform
import Synchronization

/// `robotd bench train --json`: training throughput of the dynamics ensemble and its
/// single-input prediction latency.
public enum TrainBenchmark {
    public struct Options: Sendable {
        /// Transitions in the synthetic data set.
        public var samples = 20_000
        public var members = 5
        /// Layer widths, input first.
        public var widths = [18, 200, 200, 200, 12]
        /// Epochs per measurement.
        public var epochs = 1
        /// Measure prediction on one core only (no split across two).
        public var singleCore = false
        public init() {}
    }

    final class Box: @unchecked Sendable {
        let ensemble: MLPEnsemble
        init(_ e: MLPEnsemble) { ensemble = e }
    }

    /// Trains an ensemble of `options.members` members one epoch per thread setting (1 and 2
    /// threads), then times single-input prediction; returns the JSON object the command prints.
    public static func run(_ options: Options) -> [String: Any] {
        let (samples, members, widths, epochs, singleCore) = (options.samples, options.members, options.widths, options.epochs, options.singleCore)
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 } && samples > 0 && members > 0 && epochs > 0,
                     "TrainBenchmark: at least two positive widths and positive counts")
        let nIn = widths[0], nOut = widths[widths.count - 1]
        var inputs = [Float](repeating: 0, count: samples * nIn), outputs = [Float](repeating: 0, count: samples * nOut)
        var state: UInt64 = 42
        func uniform() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        for s in 0 ..< samples {
            for i in 0 ..< nIn { inputs[s * nIn + i] = uniform() }
            for o in 0 ..< nOut { outputs[s * nOut + o] = sin(inputs[s * nIn + o % nIn]) + 0.1 * inputs[s * nIn + (o + 6) % nIn] }
        }
        var results: [String: Double] = [:]
        for threads in [1, 2] {
            let box = Box(MLPEnsemble(widths: widths, activation: .silu, members: members))
            box.ensemble.fitNormalisers(inputs: inputs, outputs: outputs, count: samples)
            let groups = (0 ..< threads).map { t in Array(stride(from: t, to: members, by: threads)) }
            let t0 = MonotonicClock.seconds()
            let done = DispatchGroup()
            for group in groups {
                done.enter()
                Thread { [inputs, outputs, samples, epochs] in
                    _ = box.ensemble.train(members: group, inputs: inputs, outputs: outputs, count: samples, epochs: epochs, seed: 1)
                    done.leave()
                }.start()
            }
            done.wait()
            let seconds = MonotonicClock.seconds() - t0
            results["threads_\(threads)"] = Double(members * samples * epochs) / seconds
        }
        let ensemble = MLPEnsemble(widths: widths, activation: .silu, members: members)
        ensemble.prepareForPrediction()
        let x = UnsafeMutablePointer<Float>.allocate(capacity: nIn)
        let mean = UnsafeMutablePointer<Float>.allocate(capacity: nOut), variance = UnsafeMutablePointer<Float>.allocate(capacity: nOut)
        defer { x.deallocate(); mean.deallocate(); variance.deallocate() }
        for i in 0 ..< nIn { x[i] = 0.1 * Float(i % 5) }
        /// p50/p90/p99/max (µs) of `timed` calls after `warmUp` untimed ones.
        let warmUp = 500, timed = 5000
        func latency(_ predict: () -> Void) -> [String: Double] {
            for _ in 0 ..< warmUp { predict() }
            var times: [UInt64] = []
            times.reserveCapacity(timed)
            for k in 0 ..< timed {
                x[k % nIn] += 1e-6
                let t0 = MonotonicClock.now()
                predict()
                times.append(MonotonicClock.now() - t0)
            }
            times.sort()
            func us(_ i: Int) -> Double { Double(times[i]) / 1000 }
            return ["p50": us(times.count / 2), "p90": us(times.count * 9 / 10), "p99": us(times.count * 99 / 100), "max": us(times.count - 1)]
        }
        let cpus = RealtimeThread.currentThreadCPUs()
        let one = latency { ensemble.predict(x, mean: mean, variance: variance) }
        var two: [String: Double]? = nil
        var helped = 0, pinned = false
        if cpus.count >= 2, !singleCore {
            // Caller on the first allowed CPU, helper on the second, as `SplitEnsemblePredictor`
            // is meant to run: each core's half of the weights stays in its own L2.
            let split = SplitEnsemblePredictor(members: ensemble.members.map(\.mlp))
            let stop = Atomic<Bool>(false), running = Atomic<Int>(0)
            let helperCPU = cpus[1]
            let helper = Thread { [split] in
                // 1: pinned, 2: pinning refused (reported: the contract wants separate CPUs).
                running.store(RealtimeThread.setCurrentThreadCPUs([helperCPU]) == nil ? 1 : 2, ordering: .releasing)
                while !stop.load(ordering: .relaxed) { _ = split.serve() }
            }
            helper.start()
            let callerPinned = RealtimeThread.setCurrentThreadCPUs([cpus[0]]) == nil
            while running.load(ordering: .acquiring) == 0 { sched_yield() }
            pinned = callerPinned && running.load(ordering: .acquiring) == 1
            let before = split.helpedCount
            two = latency { split.predict(x, mean: mean, variance: variance) }
            helped = split.helpedCount - before
            stop.store(true, ordering: .relaxed)
            _ = RealtimeThread.setCurrentThreadCPUs(cpus)
        }
        var predict: [String: Any] = two ?? one
        predict["threads"] = two == nil ? 1 : 2
        predict["threads_1"] = one
        if let two {
            predict["threads_2"] = two
            predict["helper_took_part"] = Double(helped) / Double(warmUp + timed)
            predict["pinned"] = pinned
        }
        return [
            "members": members, "widths": widths, "batch": 256, "samples": samples, "epochs": epochs,
            "member_samples_per_s": results,
            "ensemble_predict_us": predict,
        ]
    }
}
