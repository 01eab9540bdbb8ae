import Foundation
import Learning
import ModelFiles
import TestProcess
import Testing

enum OracleSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func python(_ args: [String], script: String = "Tests/oracles/safetensors_mlp.py") throws -> (Int32, String, String) {
        let r = try ChildProcess.python(script, args)
        return (r.status, r.stdout, r.stderr)
    }

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("robotd-\(getpid())-\(UInt32.random(in: 0 ... .max))-\(name)").path
    }
}

@Suite struct SafeTensorsTests {
    /// A file written by Python's `safetensors` (numpy) in nn.Sequential layout loads without
    /// conversion and computes what numpy computes.
    @Test func loadsAPythonWrittenMLPAndAgreesWithNumpy() throws {
        let path = OracleSupport.temporaryPath("py.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, out, err) = try OracleSupport.python(["write", path])
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
        let path = OracleSupport.temporaryPath("torch-\(activation).safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, out, err) = try OracleSupport.python([activation.rawValue, path], script: "Tests/oracles/torch_mlp.py")
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
        let path = OracleSupport.temporaryPath("export.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, _, err) = try OracleSupport.python([path], script: "scripts/export_policy.py")
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
        let path = OracleSupport.temporaryPath("swift.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(file, to: path)
        #expect(try SafeTensors.read(path: path) == file)
        let (status, out, err) = try OracleSupport.python(["read", path])
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
