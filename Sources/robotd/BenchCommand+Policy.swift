import ArgumentParser
import Benchmarks
import Foundation

/// `robotd bench policy --json`: single-input forward time of a policy MLP as the tick runs it
/// (Float32, `MLP.forward`: one CVectorMath W x + b per layer, preallocated workspace), and heap
/// allocations per call.
struct PolicyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Single-input policy MLP forward: p50/p99 latency and allocations per call.",
        discussion: """
            Default network 12 → 256 → 256 → 6 (ReLU), random weights; --model loads a safetensors file instead. \
            Alternates with PyTorch (Benchmarks/anchors/torch_policy.py: same widths, 1 thread, inference_mode) \
            for --rounds rounds and prints time_ratio_to_anchor (ours / PyTorch, < 1: robotd faster).
            """
    )

    @Option(help: "Layer widths, input first.") var widths = "12,256,256,6"
    @Option(help: "A safetensors policy to time instead (nn.Sequential layout, docs/models.md).") var model: String?
    @Option(parsing: .unconditional, help: "Timed calls.") var calls = 20000
    @Option(parsing: .unconditional, help: "Rounds of (ours, PyTorch's); figures and ratios are medians over them.") var rounds = 3
    @Flag(inversion: .prefixedNo, help: "Run PyTorch's Benchmarks/anchors/torch_policy.py side by side (when installed).") var anchor = true
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func validate() throws {
        guard calls > 0, rounds > 0 else { throw ValidationError("--calls and --rounds must be positive") }
    }

    func run() throws {
        Startup.configureMath()
        let w = widths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let report: [String: Any]
        do {
            report = PolicyBenchmark.runAgainstAnchor(mlp: try PolicyBenchmark.network(modelPath: model, widths: w), calls: calls,
                                                      rounds: rounds, anchor: anchor)
        } catch let error as BenchmarkError {
            throw ValidationError(error.description)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        try JSONOutput.print(report)
    }
}
