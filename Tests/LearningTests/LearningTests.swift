import AllocationCounter
import Foundation
@testable import Learning
import LinearAlgebra
import ModelFiles
import BuildInfo
import Testing

enum LearningSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func python(_ args: [String], script: String = "Tests/oracles/safetensors_mlp.py") throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repoRoot.appendingPathComponent(script).path] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("robotd-\(getpid())-\(UInt32.random(in: 0 ... .max))-\(name)").path
    }
}

@Suite struct MLPTests {
    /// ∂y/∂x against central differences of the forward pass (Float64 reference of a Float32
    /// network: step and tolerance sized for single precision).
    @Test(arguments: Activation.allCases.filter { $0 != .relu })
    func jacobianMatchesFiniteDifferences(_ activation: Activation) {
        var mlp = MLP(widths: [5, 16, 16, 3], activation: activation, seed: 4)
        mlp.inputScale = [1, 2, 0.5, 1, 3]
        mlp.outputScale = [2, 1, 0.5]
        var ws = mlp.makeWorkspace()
        let x: [Float] = [0.3, -0.2, 0.5, 0.1, -0.4]
        let J = mlp.jacobian(at: x)
        var y0 = [Float](repeating: 0, count: 3), y1 = y0
        let h: Float = 1e-2
        for c in 0 ..< 5 {
            var xp = x, xm = x
            xp[c] += h; xm[c] -= h
            mlp.forward(&ws, input: xp, output: &y0)
            mlp.forward(&ws, input: xm, output: &y1)
            for r in 0 ..< 3 {
                let fd = (y0[r] - y1[r]) / (2 * h)
                #expect(abs(fd - J[r * 5 + c]) <= 2e-3 * max(1, abs(fd)), "\(activation) J[\(r),\(c)] \(J[r * 5 + c]) vs FD \(fd)")
            }
        }
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func forwardAllocatesNothing() {
        let mlp = MLP(widths: [12, 256, 256, 6], activation: .relu)
        var ws = mlp.makeWorkspace()
        let x = [Float](repeating: 0.1, count: 12)
        var y = [Float](repeating: 0, count: 6)
        mlp.forward(&ws, input: x, output: &y)
        AllocationCounter_start()
        for _ in 0 ..< 100 { x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { mlp.forward(&ws, input: xb.baseAddress!, output: $0.baseAddress!) } } }
        #expect(AllocationCounter_stop() == 0)
    }
}

@Suite struct SafeTensorsTests {
    /// A file written by Python's `safetensors` (numpy) in nn.Sequential layout loads without
    /// conversion and computes what numpy computes.
    @Test func loadsAPythonWrittenMLPAndAgreesWithNumpy() throws {
        let path = LearningSupport.temporaryPath("py.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, out, err) = try LearningSupport.python(["write", path])
        try #require(status == 0, "python oracle failed (run scripts/setup.sh --test): \(err)")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [[Double]]])
        let (mlp, metadata) = try MLPFile.load(path: path)
        #expect(mlp.widths == [12, 32, 32, 6] && mlp.activation == .tanh)
        #expect(metadata["robot"] == "sim6")
        var ws = mlp.makeWorkspace()
        var y = [Float](repeating: 0, count: 6)
        for (x, expected) in zip(reference["inputs"]!, reference["outputs"]!) {
            mlp.forward(&ws, input: x.map { Float($0) }, output: &y)
            for i in 0 ..< 6 { #expect(abs(Double(y[i]) - expected[i]) <= 1e-4 * max(1, abs(expected[i])), "output \(i): \(y[i]) vs \(expected[i])") }
        }
    }

    /// A file written by `safetensors.torch.save_file` from a plain PyTorch `nn.Sequential`
    /// (its `state_dict`, no conversion) loads and computes what PyTorch computes, for every
    /// activation robotd offers.
    @Test(arguments: [Activation.relu, .silu, .tanh])
    func loadsATorchSavedSequentialAndAgreesWithTorch(_ activation: Activation) throws {
        let path = LearningSupport.temporaryPath("torch-\(activation).safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, out, err) = try LearningSupport.python([activation.rawValue, path], script: "Tests/oracles/torch_mlp.py")
        try #require(status == 0, "torch oracle failed (run scripts/setup.sh --test): \(err)")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [[Double]]])
        let (mlp, metadata) = try MLPFile.load(path: path)
        #expect(mlp.widths == [12, 32, 32, 6] && mlp.activation == activation && metadata["robot"] == "sim6")
        var ws = mlp.makeWorkspace()
        var y = [Float](repeating: 0, count: 6)
        for (x, expected) in zip(reference["inputs"]!, reference["outputs"]!) {
            mlp.forward(&ws, input: x.map { Float($0) }, output: &y)
            for i in 0 ..< 6 { #expect(abs(Double(y[i]) - expected[i]) <= 1e-4 * max(1, abs(expected[i])), "\(activation) output \(i): \(y[i]) vs \(expected[i])") }
        }
    }

    /// The shipped export example (scripts/export_policy.py) produces a policy file robotd takes:
    /// its widths, activation, robot and observation metadata as documented.
    @Test func theExportExampleWritesALoadablePolicy() throws {
        let path = LearningSupport.temporaryPath("export.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, _, err) = try LearningSupport.python([path], script: "scripts/export_policy.py")
        try #require(status == 0, "scripts/export_policy.py failed (run scripts/setup.sh --test): \(err)")
        let (mlp, metadata) = try MLPFile.load(path: path)
        #expect(mlp.widths == [12, 256, 256, 6] && mlp.activation == .relu)
        #expect(metadata["robot"] == "sim6" && metadata["observation"] == "q,v")
    }

    /// What robotd writes, Python's `safetensors` reads back exactly; and robotd re-reads its own
    /// bytes identically.
    @Test func writesFilesPythonReads() throws {
        var mlp = MLP(widths: [4, 8, 2], activation: .silu, seed: 9)
        mlp.outputMean = [1, -1]
        let file = MLPFile.file(for: mlp, metadata: ["robot": "sim6", "provenance": "test"])
        let path = LearningSupport.temporaryPath("swift.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(file, to: path)
        #expect(try SafeTensors.read(path: path) == file)
        let (status, out, err) = try LearningSupport.python(["read", path])
        try #require(status == 0, "python could not read robotd's file: \(err)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let tensors = try #require(seen["tensors"] as? [String: [String: Any]])
        #expect(Set(tensors.keys) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(tensors["0.weight"]?["shape"] as? [Int] == [8, 4])
        #expect(tensors["0.weight"]?["dtype"] as? String == "float32")
        let values = (tensors["0.weight"]?["values"] as? [Double])?.map { Float($0) }
        #expect(values == mlp.weights[0])
        #expect((seen["metadata"] as? [String: String])?["robot"] == "sim6")
        #expect((seen["metadata"] as? [String: String])?["activation"] == "silu")
    }

    @Test func corruptFilesAreRefusedWithTheReason() throws {
        let good = SafeTensors.encode(MLPFile.file(for: MLP(widths: [2, 3, 1], activation: .relu)))
        func reason(_ bytes: [UInt8]) -> String {
            do {
                _ = try SafeTensors.decode(bytes, name: "m.safetensors")
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(reason(Array(good.prefix(5))).contains("shorter than the 8-byte header length"))
        var huge = good
        huge[7] = 0x7F
        #expect(reason(huge).contains("header length"))
        #expect(reason(Array(good.prefix(good.count - 4))).contains("outside the"))
        var garbage = good
        garbage[9] = UInt8(ascii: "X")
        #expect(reason(garbage).contains("not a JSON object"))
        // A Linear stack with mismatched widths.
        var file = MLPFile.file(for: MLP(widths: [2, 3, 1], activation: .relu))
        file.tensors["2.weight"] = SafeTensors.Tensor([1, 2, 3, 4], shape: [1, 4])
        do {
            _ = try MLPFile.mlp(from: file, name: "m.safetensors")
            Issue.record("mismatched layers accepted")
        } catch {
            #expect(error.description.contains("takes 4 inputs but the previous layer gives 3"))
        }
        file = SafeTensors.File(tensors: ["weight": SafeTensors.Tensor([1], shape: [1, 1])])
        do {
            _ = try MLPFile.mlp(from: file, name: "m.safetensors")
            Issue.record("a file without Linear layers accepted")
        } catch {
            #expect(error.description.contains("\"0.weight\""))
        }
    }
}


@Suite struct RenormaliseTests {
    static func output(_ m: MLP, _ x: [Float]) -> [Float] {
        var ws = m.makeWorkspace()
        var out = [Float](repeating: 0, count: m.outputSize)
        x.withUnsafeBufferPointer { m.forward(&ws, input: $0.baseAddress!, output: &out) }
        return out
    }

    /// New normalisers, same function: the re-expressed network gives the old outputs on random
    /// inputs (one and several layers); an input that becomes ignored drops out exactly at its
    /// new mean and the network no longer depends on it.
    @Test(arguments: [[5, 4], [5, 16, 16, 4]])
    func keepsTheFunction(widths: [Int]) {
        var rng = SplitMix64(seed: 9)
        func u(_ a: Double, _ b: Double) -> Float { Float(a + (b - a) * rng.nextUnit()) }
        var m = MLP(widths: widths, activation: .silu, seed: 3)
        m.inputMean = (0 ..< 5).map { _ in u(-1, 1) }
        m.inputScale = (0 ..< 5).map { _ in u(0.2, 2) }
        m.outputMean = (0 ..< 4).map { _ in u(-1, 1) }
        m.outputScale = (0 ..< 4).map { _ in u(0.1, 3) }
        var r = m
        let m2 = (0 ..< 5).map { _ in u(-1, 1) }, s2 = (0 ..< 5).map { _ in u(0.2, 2) }
        r.renormalise(inputMean: m2, inputScale: s2, outputMean: (0 ..< 4).map { _ in u(-1, 1) }, outputScale: (0 ..< 4).map { _ in u(0.1, 3) })
        #expect(r.inputScale == s2)
        for _ in 0 ..< 20 {
            let x = (0 ..< 5).map { _ in u(-2, 2) }
            let a = Self.output(m, x), b = Self.output(r, x)
            for o in 0 ..< 4 { #expect(abs(a[o] - b[o]) <= 1e-4 * max(1, abs(a[o])), "\(a) vs \(b)") }
        }
        // Input 2 becomes ignored: at its new mean the function is unchanged; elsewhere constant.
        var ignored = m
        var s3 = m.inputScale
        s3[2] = MLP.ignoredInputScale
        ignored.renormalise(inputMean: m2, inputScale: s3, outputMean: m.outputMean, outputScale: m.outputScale)
        var x = (0 ..< 5).map { _ in u(-2, 2) }
        x[2] = m2[2]
        let a = Self.output(m, x), b = Self.output(ignored, x)
        for o in 0 ..< 4 { #expect(abs(a[o] - b[o]) <= 1e-4 * max(1, abs(a[o]))) }
        x[2] += 1
        #expect(Self.output(ignored, x) == b)
    }
}
