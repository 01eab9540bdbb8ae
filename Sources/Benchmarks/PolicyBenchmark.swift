import AllocationCounter
import ArgumentParser
import Foundation
import Learning
import ModelFiles
import Platform
import RobotDaemon

/// `robotd bench policy --json`: single-input forward time of a policy MLP as the tick runs it
/// (Float32, `MLP.forward`: one CVectorMath W x + b per layer, preallocated workspace), and heap
/// allocations per call.
struct PolicyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Single-input policy MLP forward: p50/p99 latency and allocations per call.",
        discussion: "Default network 12 → 256 → 256 → 6 (ReLU), random weights; --model loads a safetensors file instead."
    )

    @Option(help: "Layer widths, input first.") var widths = "12,256,256,6"
    @Option(help: "A safetensors policy to time instead (nn.Sequential layout, docs/models.md).") var model: String?
    @Option(parsing: .unconditional, help: "Timed calls.") var calls = 20000
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func run() throws {
        Startup.configureMath()
        let mlp: MLP
        if let model {
            do { mlp = try MLPFile.load(path: model).0 } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode.failure
            }
        } else {
            let w = widths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard w.count >= 2, w.allSatisfy({ $0 > 0 }) else { throw ValidationError("--widths: positive integers, e.g. 12,256,256,6") }
            mlp = MLP(widths: w, activation: .relu, seed: 3)
        }
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
        try JSONOutput.print([
            "widths": mlp.widths, "parameters": mlp.parameterCount, "calls": calls,
            "forward_us": ["p50": us(0.5), "p99": us(0.99), "max": Double(times.last!) / 1000],
            "allocations_per_call": Double(allocations) / Double(calls),
            "allocation_counter_verified": LoopBenchmark.allocationCounterWorks(),
        ] as [String: Any])
    }
}
