import Foundation
import Learning
import LinearAlgebra
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
        /// Run PyTorch's `Benchmarks/anchors/torch_train.py` side by side (when installed).
        public var anchor = true
        /// Rounds of (ours at 1 and 2 threads, the anchor's); the figures are medians over them.
        public var rounds = 3
        public init() {}
    }

    /// Trains an ensemble of `options.members` members one epoch per thread setting (1 and 2
    /// threads, the members' mini-batches shared out by `EnsembleTrainingRun`), alternating with
    /// PyTorch's anchor for `options.rounds` rounds, then times single-input prediction; returns
    /// the JSON object the command prints.
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
        /// One epoch per member on `threads` workers sharing one `EnsembleTrainingRun`; member-samples/s.
        func trainingRate(threads: Int) -> Double {
            let ensemble = MLPEnsemble(widths: widths, activation: .silu, members: members)
            ensemble.fitNormalisers(inputs: inputs, outputs: outputs, count: samples)
            let run = EnsembleTrainingRun(ensemble: ensemble, members: Array(0 ..< members), inputs: inputs, outputs: outputs,
                                          count: samples, epochs: epochs, seed: 1)
            let t0 = MonotonicClock.seconds()
            let done = DispatchGroup()
            for _ in 1 ..< threads {
                done.enter()
                Thread { run.work(); done.leave() }.start()
            }
            run.work()
            done.wait()
            return Double(members * samples * epochs) / (MonotonicClock.seconds() - t0)
        }
        // Rounds of ours (1 thread, 2 threads) then the anchor's, so that load which comes and goes
        // on a shared machine falls on both sides alike; medians over the rounds.
        let anchorScript = options.anchor ? Anchor.file("torch_train.py") : nil
        let python = Anchor.python()
        var ours: [String: [Double]] = [:], theirs: [String: [Double]] = [:]
        var anchorOutcome: Anchor.Outcome = .unavailable(options.anchor ? "Benchmarks/anchors/torch_train.py not found" : "--no-anchor")
        if options.anchor, anchorScript != nil, python == nil { anchorOutcome = .unavailable("no python3 on PATH (or $ROBOTD_PYTHON)") }
        var roundRatios: [String: [Double]] = [:]
        for _ in 0 ..< options.rounds {
            var mine: [String: Double] = [:]
            for threads in [1, 2] {
                let rate = trainingRate(threads: threads)
                mine["threads_\(threads)"] = rate
                ours["threads_\(threads)", default: []].append(rate)
            }
            guard let anchorScript, let python else { continue }
            let outcome = Anchor.run(python, [anchorScript, "--members", "\(members)", "--widths", widths.map(String.init).joined(separator: ","),
                                              "--samples", "\(samples)", "--batch", "256", "--threads", "1,2"])
            if case .ran(let figures) = outcome, let rates = figures["member_samples_per_s"] as? [String: Any] {
                for (key, value) in rates {
                    guard let rate = (value as? NSNumber)?.doubleValue else { continue }
                    theirs[key, default: []].append(rate)
                    if let ratio = Anchor.ratio(mine[key], rate) { roundRatios[key, default: []].append(ratio) }
                }
                var kept = figures
                kept["member_samples_per_s"] = theirs.mapValues(median)
                kept["rounds"] = theirs.values.map(\.count).max() ?? 0
                anchorOutcome = .ran(kept)
            } else if theirs.isEmpty {
                anchorOutcome = outcome
                break
            }
        }
        let results = ours.mapValues(median)
        var ratios: [String: Double] = [:]
        for (key, rate) in results { if let r = Anchor.ratio(rate, theirs[key].map(median)) { ratios[key] = r } }
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
        var report: [String: Any] = [
            "members": members, "widths": widths, "batch": 256, "samples": samples, "epochs": epochs,
            "member_samples_per_s": results, "rounds": options.rounds,
            "member_samples_per_s_rounds": ours,
            "anchor": Anchor.report(name: "pytorch", anchorOutcome),
            "ensemble_predict_us": predict,
        ]
        report.merge(OpenBLASFacts.report) { a, _ in a }
        if !ratios.isEmpty {
            // ours / PyTorch's member-samples/s from the medians (> 1: robotd trains faster), and
            // the same ratio round by round (its spread says how much the machine's load moved it).
            report["rate_ratio_to_anchor"] = ratios
            report["rate_ratio_to_anchor_rounds"] = roundRatios
        }
        return report
    }

    static func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.isEmpty ? .nan : (v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2)
    }
}
