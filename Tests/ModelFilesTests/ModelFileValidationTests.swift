import Foundation
import Learning
@testable import ModelFiles
import Testing

/// Model and policy files a hostile or broken exporter can produce (issue 12, item 9): every
/// refusal names the tensor (or metadata key) and the field at fault.
@Suite struct ModelFileValidationTests {
    /// A valid 12-16-6 policy file as bytes, with a header edit applied to its JSON text.
    static func file(editingHeader edit: (String) -> String = { $0 }, metadata: [String: String] = [:]) -> [UInt8] {
        let mlp = MLP(widths: [12, 16, 6], activation: .tanh, seed: 3)
        let bytes = SafeTensors.encode(MLPFile.file(for: mlp, metadata: metadata))
        var n = 0
        for i in 0 ..< 8 { n |= Int(bytes[i]) << (8 * i) }
        var header = edit(String(decoding: bytes[8 ..< 8 + n], as: UTF8.self))
        while header.utf8.count % 8 != 0 { header += " " }
        let h = Array(header.utf8)
        var out: [UInt8] = (0 ..< 8).map { UInt8((h.count >> (8 * $0)) & 0xFF) }
        out += h
        out += bytes[(8 + n)...]
        return out
    }

    static func refusal(_ bytes: [UInt8]) -> String? {
        do {
            let f = try SafeTensors.decode(bytes, name: "p.safetensors")
            _ = try MLPFile.mlp(from: f, name: "p.safetensors")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theUneditedFileLoads() {
        #expect(Self.refusal(Self.file()) == nil)
    }

    /// `shape: [12.5, …]` and `data_offsets: [0.5, …]` were read as 12 and 0.
    @Test func fractionalShapesAndOffsetsAreRefused() throws {
        let shape = Self.file { $0.replacingOccurrences(of: "\"shape\":[16,12]", with: "\"shape\":[16.5,12]") }
        let r1 = try #require(Self.refusal(shape))
        #expect(r1.contains("\"0.weight\"") && r1.contains("shape[0]") && r1.contains("16.5"), "\(r1)")
        let header = String(decoding: Self.file()[8...], as: UTF8.self)
        let range = try #require(header.range(of: #""0.weight":\{"dtype":"F32","shape":\[16,12\],"data_offsets":\[(\d+),"#, options: .regularExpression))
        let begin = header[range].split(separator: "[").last!.dropLast()
        let offsets = Self.file { $0.replacingOccurrences(of: "\"shape\":[16,12],\"data_offsets\":[\(begin),", with: "\"shape\":[16,12],\"data_offsets\":[\(begin).5,") }
        let r2 = try #require(Self.refusal(offsets))
        #expect(r2.contains("\"0.weight\"") && r2.contains("data_offsets[0]"), "\(r2)")
    }

    /// NaN or infinite weights (F32 as stored, or F64 beyond Float's range) name the tensor and
    /// the element.
    @Test func nonFiniteWeightsAreRefused() throws {
        var mlp = MLP(widths: [12, 16, 6], activation: .tanh, seed: 3)
        mlp.withMutableLayer(1) { w, _ in w[5] = .nan }
        let r = try #require(Self.refusal(SafeTensors.encode(MLPFile.file(for: mlp))))
        #expect(r.contains("\"2.weight\"") && r.contains("element 5") && r.contains("nan"), "\(r)")
        var f = MLPFile.file(for: MLP(widths: [12, 16, 6], activation: .tanh, seed: 3))
        f.tensors["0.bias"] = SafeTensors.Tensor(dtype: .f64, shape: [16], bytes: ([Double](repeating: 0, count: 15) + [1e300]).withUnsafeBytes { Array($0) })
        let r64 = try #require(Self.refusal(SafeTensors.encode(f)))
        #expect(r64.contains("\"0.bias\"") && r64.contains("element 15"), "\(r64)")
    }

    /// `dt: "nan"` (or "inf", "-1", "fast") in the metadata is refused naming the key.
    @Test(arguments: ["nan", "inf", "-0.01", "fast"])
    func nonNumericStepsAreRefused(_ dt: String) throws {
        let r = try #require(Self.refusal(Self.file(metadata: ["dt": dt])))
        #expect(r.contains("__metadata__.dt") && r.contains(dt), "\(r)")
        #expect(Self.refusal(Self.file(metadata: ["dt": "0.01"])) == nil)
    }

    /// A policy that cannot run in the tick is refused at load: 12-2048-2048-6 (4.2 M
    /// multiply-adds a pass) against a quarter of a 1 kHz tick; the default-size policy
    /// (12-256-256-6, scripts/export_policy.py's) fits. The figures come from the thread's CPU
    /// clock; the refusal names both.
    @Test func policiesOverTheTicksBudgetAreRefused() throws {
        let big = MLP(widths: [12, 2048, 2048, 6], activation: .relu, seed: 1)
        #expect(throws: SafeTensors.Failure.self) { try MLPFile.checkInferenceBudget(big, period: 0.001, fraction: 0.25, name: "big.safetensors") }
        do {
            try MLPFile.checkInferenceBudget(big, period: 0.001, fraction: 0.25, name: "big.safetensors")
        } catch {
            #expect(error.description.contains("big.safetensors") && error.description.contains("0.250 ms") && error.description.contains("ms of CPU"), "\(error)")
        }
        let small = MLP(widths: [12, 256, 256, 6], activation: .relu, seed: 1)
        try MLPFile.checkInferenceBudget(small, period: 0.001, fraction: 0.25, name: "small.safetensors")
    }
}
