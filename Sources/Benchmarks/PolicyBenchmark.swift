import AllocationCounter
import Foundation
import Learning
import ModelFiles
import Platform

/// `robotd bench policy --json`: single-input forward time of a policy MLP as the tick runs it
/// (Float32, `MLP.forward`: one CVectorMath W x + b per layer, preallocated workspace), and heap
/// allocations per call.
public enum PolicyBenchmark {
    /// The network to time: the safetensors policy at `modelPath` (nn.Sequential layout,
    /// docs/models.md), or else a ReLU MLP of `widths` (input first) with random weights.
    /// - Throws: the model file's error (it names the file and the tensor); `BenchmarkError`
    ///   for widths that are not at least two positive integers.
    public static func network(modelPath: String?, widths: [Int]) throws -> MLP {
        if let modelPath { return try MLPFile.load(path: modelPath).0 }
        guard widths.count >= 2, widths.allSatisfy({ $0 > 0 }) else { throw BenchmarkError("--widths: positive integers, e.g. 12,256,256,6") }
        return MLP(widths: widths, activation: .relu, seed: 3)
    }

    /// Rounds of (ours: `run(mlp:calls:)`, PyTorch's `Benchmarks/anchors/torch_policy.py` on the same
    /// widths and activation, 1 thread, inference mode), alternating so that load on a shared
    /// machine falls on both alike; medians of each side's p50 and p99 over the rounds, and
    /// `"time_ratio_to_anchor"` = ours / PyTorch's (< 1: robotd's forward pass is faster).
    /// The weights differ (each side its own random ones): a dense pass's time does not depend on them.
    public static func runAgainstAnchor(mlp: MLP, calls: Int, rounds: Int, anchor: Bool) -> [String: Any] {
        var report: [String: Any] = [:]
        var ours: [String: [Double]] = [:], theirs: [String: [Double]] = [:]
        let script = anchor ? Anchor.file("torch_policy.py") : nil
        let python = Anchor.python()
        var outcome: Anchor.Outcome = .unavailable(anchor ? (script == nil ? "Benchmarks/anchors/torch_policy.py not found" : "no python3 on PATH (or $ROBOTD_PYTHON)") : "--no-anchor")
        for _ in 0 ..< max(1, rounds) {
            report = run(mlp: mlp, calls: calls)
            if let f = report["forward_us"] as? [String: Double] {
                for (k, v) in f where k != "max" { ours[k, default: []].append(v) }
            }
            guard let script, let python else { continue }
            let ran = Anchor.run(python, [script, "--widths", mlp.widths.map(String.init).joined(separator: ","),
                                          "--activation", mlp.activation.rawValue, "--calls", "\(calls)"])
            if case .ran(let figures) = ran, let f = figures["forward_us"] as? [String: Any] {
                for (k, v) in f { if let x = (v as? NSNumber)?.doubleValue { theirs[k, default: []].append(x) } }
                var kept = figures
                kept["forward_us"] = theirs.mapValues(TrainBenchmark.median)
                kept["rounds"] = theirs.values.map(\.count).max() ?? 0
                outcome = .ran(kept)
            } else if theirs.isEmpty {
                outcome = ran
                break
            }
        }
        if rounds > 1 { report["forward_us_median_of_rounds"] = ours.mapValues(TrainBenchmark.median) }
        report["rounds"] = max(1, rounds)
        report["anchor"] = Anchor.report(name: "pytorch", outcome)
        var ratios: [String: Double] = [:]
        for (k, v) in ours { if let r = Anchor.ratio(TrainBenchmark.median(v), theirs[k].map(TrainBenchmark.median)) { ratios[k] = r } }
        if !ratios.isEmpty { report["time_ratio_to_anchor"] = ratios }
        report.merge(OpenBLASFacts.report) { a, _ in a }
        return report
    }

    /// Times `calls` forward passes of `mlp` after 1000 untimed ones; returns the JSON object the
    /// command prints.
    public static func run(mlp: MLP, calls: Int) -> [String: Any] {
        var ws = mlp.makeWorkspace()
        let input = UnsafeMutablePointer<Float>.allocate(capacity: mlp.inputSize)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: mlp.outputSize)
        defer { input.deallocate(); output.deallocate() }
        for i in 0 ..< mlp.inputSize { input[i] = Float(i % 7) * 0.1 - 0.3 }
        var times = [UInt64](repeating: 0, count: calls)
        for _ in 0 ..< 1000 { mlp.forward(&ws, input: input, output: output) }
        AllocationCounter_start()
        for k in 0 ..< calls {
            input[k % mlp.inputSize] += 1e-6   // vary the input a little
            let t0 = MonotonicClock.now()
            mlp.forward(&ws, input: input, output: output)
            times[k] = MonotonicClock.now() - t0
        }
        let allocations = AllocationCounter_stop()
        times.sort()
        func us(_ q: Double) -> Double { Double(times[min(times.count - 1, Int(q * Double(times.count)))]) / 1000 }
        return [
            "widths": mlp.widths, "parameters": mlp.parameterCount, "calls": calls,
            "forward_us": ["p50": us(0.5), "p99": us(0.99), "max": Double(times.last!) / 1000],
            "allocations_per_call": Double(allocations) / Double(calls),
            "allocation_counter_verified": LoopBenchmark.allocationCounterWorks(),
        ]
    }
}
