import ArgumentParser
import Benchmarks
import Foundation

/// `robotd bench train --json`: training throughput of the dynamics ensemble and its
/// single-input prediction latency.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Ensemble training throughput (member-samples/s, 1 and 2 threads) and prediction latency.",
        discussion: """
            5 members of 18 → 200 → 200 → 200 → 12 (SiLU; --widths for others), batch 256, AdamW, on 20 000 synthetic \
            transitions; one epoch per member and thread setting. With 2 threads both train the \
            ensemble, taking chunks of 8 mini-batches of whichever member is free (EnsembleTrainingRun; \
            OpenBLAS single-threaded in each). Alternates with PyTorch (Benchmarks/anchors/torch_train.py: \
            members batched with baddbmm, 1 and 2 threads) for --rounds rounds and prints \
            rate_ratio_to_anchor (ours / PyTorch, > 1: robotd faster). Single-input prediction \
            latency on one core (MLPEnsemble.predict) and, when the process may use two CPUs, on \
            two (SplitEnsemblePredictor: the caller on the first CPU, a helper on the second).
            """
    )

    @Option(parsing: .unconditional, help: "Transitions in the data set.") var samples = 20_000
    @Option(parsing: .unconditional, help: "Ensemble members.") var members = 5
    @Option(help: "Layer widths, input first (e.g. 12,64,64,12: the daemon's default residual ensemble).")
    var widths = "18,200,200,200,12"
    @Option(parsing: .unconditional, help: "Epochs per measurement.") var epochs = 1
    @Flag(help: "Measure prediction on one core only (no split across two).") var singleCore = false
    @Option(parsing: .unconditional, help: "Rounds of (ours at 1 and 2 threads, PyTorch's); figures and ratios are medians over them.") var rounds = 3
    @Flag(inversion: .prefixedNo, help: "Run PyTorch's Benchmarks/anchors/torch_train.py side by side (when installed).") var anchor = true
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func validate() throws {
        guard samples > 0, members > 0, epochs > 0, rounds > 0 else { throw ValidationError("--samples, --members, --epochs and --rounds must be positive") }
    }

    func run() throws {
        Startup.configureMath()
        let parts = self.widths.split(separator: ",", omittingEmptySubsequences: false)
        let widths = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard widths.count >= 2, widths.count == parts.count, widths.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--widths: expected positive integers separated by commas, input first, e.g. 18,200,200,200,12; got \"\(self.widths)\"")
        }
        var options = TrainBenchmark.Options()
        options.samples = samples
        options.members = members
        options.widths = widths
        options.epochs = epochs
        options.singleCore = singleCore
        options.rounds = rounds
        options.anchor = anchor
        try JSONOutput.print(TrainBenchmark.run(options))
    }
}
