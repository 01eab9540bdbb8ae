import Foundation
import Learning

/// The safetensors format (https://github.com/huggingface/safetensors), byte-compatible with
/// Python's `safetensors` package:
///
///   8 bytes   N, the header length, unsigned little-endian
///   N bytes   UTF-8 JSON: {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
///                          "__metadata__": {"<key>": "<string>", …}}  (padded with spaces)
///   rest      the tensors' bytes, little-endian, row-major, at [begin, end) of this buffer
///
/// Reading checks everything a corrupt or hostile file can get wrong and says which tensor and
/// what: header length, JSON, dtypes, shapes, offsets inside the buffer and matching the shape.
public enum SafeTensors {
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32"
        case f64 = "F64"
        case f16 = "F16"
        case bf16 = "BF16"
        case i64 = "I64"
        case i32 = "I32"
        case i16 = "I16"
        case i8 = "I8"
        case u8 = "U8"
        case bool = "BOOL"

        public var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }

    public struct Tensor: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(_ values: [Float], shape: [Int]) {
            dtype = .f32
            self.shape = shape
            bytes = values.withUnsafeBytes { Array($0) }   // little-endian on every platform robotd runs on
        }

        public var elementCount: Int { shape.reduce(1, *) }

        /// The values as Float32 (F32 as is, F64 narrowed); nil for other dtypes.
        public var floats: [Float]? {
            switch dtype {
            case .f32:
                return bytes.withUnsafeBytes { raw in (0 ..< elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
            case .f64:
                return bytes.withUnsafeBytes { raw in (0 ..< elementCount).map { Float(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) } }
            default:
                return nil
            }
        }
    }

    public struct File: Sendable, Equatable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]

        public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
            self.tensors = tensors
            self.metadata = metadata
        }
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
        init(_ path: String, _ d: String) { description = "\(path): \(d)" }
    }

    /// Largest header accepted (the format's own limit is 100 MB).
    static let maxHeader = 100_000_000

    /// Largest file read (bytes): policies and ensembles for arms are megabytes; the bound keeps a
    /// mistaken path from exhausting memory.
    public static let maxFileBytes = 1 << 30

    public static func read(path: String) throws(Failure) -> File {
        // `/dev/zero` or a FIFO would be read forever; check before reading.
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFREG else {
                throw Failure(path, "not a regular file (a device, directory, FIFO or socket)")
            }
            guard Int(status.st_size) <= maxFileBytes else {
                throw Failure(path, "\(status.st_size) bytes, more than the limit of \(maxFileBytes) bytes")
            }
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Failure(path, "cannot read: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        return try decode(Array(data), name: path)
    }

    public static func decode(_ bytes: [UInt8], name: String) throws(Failure) -> File {
        guard bytes.count >= 8 else { throw Failure(name, "not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0 ..< 8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeader), 8 + Int(n) <= bytes.count else {
            // n is the file's first 8 bytes: compared, never printed (it leaked /etc/shadow's start).
            throw Failure(name, "not a safetensors file: its first 8 bytes do not give a header length within the file's \(bytes.count) bytes and the \(maxHeader)-byte header limit")
        }
        let headerBytes = bytes[8 ..< 8 + Int(n)]
        guard let json = try? JSONSerialization.jsonObject(with: Data(headerBytes)), let header = json as? [String: Any] else {
            throw Failure(name, "the header is not a JSON object")
        }
        let buffer = bytes[(8 + Int(n))...]
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw Failure(name, "__metadata__ must be an object of strings") }
                for (k, v) in m {
                    guard let s = v as? String else { throw Failure(name, "__metadata__.\(k) must be a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw Failure(name, "tensor \"\(key)\": not an object") }
            guard let dtypeName = entry["dtype"] as? String, let dtype = DType(rawValue: dtypeName) else {
                throw Failure(name, "tensor \"\(key)\": unknown dtype \(String(describing: entry["dtype"] ?? "none"))")
            }
            guard let shapeAny = entry["shape"] as? [Any] else {
                throw Failure(name, "tensor \"\(key)\": shape must be a list of non-negative integers")
            }
            var shape: [Int] = []
            for (i, value) in shapeAny.enumerated() {
                guard let d = integer(value), d >= 0 else {
                    throw Failure(name, "tensor \"\(key)\": shape[\(i)] = \(value) is not a non-negative integer")
                }
                shape.append(d)
            }
            guard let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw Failure(name, "tensor \"\(key)\": data_offsets must be [begin, end]")
            }
            var offsets: [Int] = []
            for (i, value) in offsetsAny.enumerated() {
                guard let o = integer(value) else {
                    throw Failure(name, "tensor \"\(key)\": data_offsets[\(i)] = \(value) is not an integer")
                }
                offsets.append(o)
            }
            let begin = offsets[0], end = offsets[1]
            guard begin >= 0, end >= begin, end <= buffer.count else {
                throw Failure(name, "tensor \"\(key)\": data_offsets [\(begin), \(end)] outside the \(buffer.count)-byte data buffer")
            }
            // A wrapped product could match a short byte range and trap later in `elementCount`.
            guard let expected = byteCount(shape: shape, dtype: dtype) else {
                throw Failure(name, "tensor \"\(key)\": shape \(shape) has more bytes than memory can hold")
            }
            guard end - begin == expected else {
                throw Failure(name, "tensor \"\(key)\": \(end - begin) bytes for shape \(shape) of \(dtype.rawValue) (expected \(expected))")
            }
            ranges.append((begin, end, key))
            let start = buffer.startIndex + begin
            tensors[key] = Tensor(dtype: dtype, shape: shape, bytes: Array(bytes[start ..< start + (end - begin)]))
        }
        // By (begin, end): an empty tensor at a neighbour's begin is not an overlap.
        ranges.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for i in 1 ..< max(1, ranges.count) where ranges[i].0 < ranges[i - 1].1 {
            throw Failure(name, "tensors \"\(ranges[i - 1].2)\" and \"\(ranges[i].2)\" overlap")
        }
        return File(tensors: tensors, metadata: metadata)
    }

    /// A JSON number that is an integer exactly (12 or 12.0, not 12.5, 1e300 or true); nil otherwise.
    /// (`as? Int` bridges only numbers that are exactly integers: NSNumber.intValue would turn 2.5
    /// into 2 and 1e300 into Int.min.)
    private static let booleanClass: AnyClass = type(of: NSNumber(value: true) as AnyObject)

    static func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, type(of: n as AnyObject) != booleanClass else { return nil }
        return value as? Int
    }

    /// Bytes of a tensor of `shape` and `dtype`, or nil when the count overflows `Int`.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var count = dtype.size
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// Serialises like Python's `safetensors`: tensors sorted by name, laid out in that order,
    /// header padded with spaces to a multiple of 8 bytes.
    public static func encode(_ file: File) -> [UInt8] {
        var entries: [String] = []
        var offset = 0
        if !file.metadata.isEmpty {
            let m = file.metadata.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\(quote($0.value))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(m)}")
        }
        let tensors = file.tensors.sorted { $0.key < $1.key }
        for (name, t) in tensors {
            entries.append("\(quote(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for i in 0 ..< 8 { out.append(UInt8((n >> (8 * UInt64(i))) & 0xFF)) }
        out += header
        for (_, t) in tensors { out += t.bytes }
        return out
    }

    /// A JSON string literal (RFC 8259 escapes), as `json.dumps` writes it apart from non-ASCII,
    /// which stays UTF-8 (Python's `safetensors` writes the header with serde_json, which does
    /// the same).
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    public static func write(_ file: File, to path: String) throws(Failure) {
        do {
            try Data(encode(file)).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure(path, "cannot write: \(error.localizedDescription)")
        }
    }
}

/// MLPs in safetensors, as PyTorch saves an `nn.Sequential(Linear, act, …, Linear)`'s
/// `state_dict`: the Linear layers are `<i>.weight` (out × in) and `<i>.bias` for their indices i
/// in the Sequential (0, 2, 4, … with one activation between), in order. `__metadata__` carries
/// `activation` (relu, silu, tanh; default relu), `robot`, `architecture` (e.g. "12-256-256-6"),
/// `provenance`, and the normalisers `input_mean`, `input_std`, `output_mean`, `output_std` as JSON
/// number lists (absent = identity). See docs/models.md.
public enum MLPFile {
    public static func load(path: String) throws(SafeTensors.Failure) -> (MLP, [String: String]) {
        let file = try SafeTensors.read(path: path)
        return try mlp(from: file, name: path)
    }

    public static func mlp(from file: SafeTensors.File, name: String) throws(SafeTensors.Failure) -> (MLP, [String: String]) {
        let layers = file.tensors.keys.compactMap { key -> Int? in
            guard key.hasSuffix(".weight"), let i = Int(key.dropLast(".weight".count)) else { return nil }
            return i
        }.sorted()
        guard !layers.isEmpty else {
            throw SafeTensors.Failure(name, "no Linear layers: expected tensors named \"0.weight\", \"0.bias\", \"2.weight\", … (nn.Sequential state_dict); found \(file.tensors.keys.sorted().joined(separator: ", "))")
        }
        var widths: [Int] = []
        var weights: [[Float]] = [], biases: [[Float]] = []
        for (n, i) in layers.enumerated() {
            guard let w = file.tensors["\(i).weight"], w.shape.count == 2 else {
                throw SafeTensors.Failure(name, "\"\(i).weight\" must be a 2-D (out × in) tensor")
            }
            guard let b = file.tensors["\(i).bias"], b.shape == [w.shape[0]] else {
                throw SafeTensors.Failure(name, "\"\(i).bias\" must exist with shape [\(w.shape[0])]")
            }
            guard let wf = w.floats, let bf = b.floats else {
                throw SafeTensors.Failure(name, "layer \(i): dtype \(w.dtype.rawValue) is not F32 or F64")
            }
            // F64 values beyond Float's range become ±inf when narrowed: also refused here.
            for (tensor, values) in [("\(i).weight", wf), ("\(i).bias", bf)] {
                if let k = values.firstIndex(where: { !$0.isFinite }) {
                    throw SafeTensors.Failure(name, "tensor \"\(tensor)\": element \(k) is \(values[k]) (weights must be finite)")
                }
            }
            if let previous = widths.last, n > 0, w.shape[1] != previous {
                throw SafeTensors.Failure(name, "\"\(i).weight\" takes \(w.shape[1]) inputs but the previous layer gives \(previous)")
            }
            if n == 0 { widths.append(w.shape[1]) }
            widths.append(w.shape[0])
            weights.append(wf)
            biases.append(bf)
        }
        let activationName = file.metadata["activation"] ?? "relu"
        guard let activation = Activation(rawValue: activationName) else {
            throw SafeTensors.Failure(name, "__metadata__.activation \"\(activationName)\" is not one of relu, silu, tanh")
        }
        guard var mlp = MLP(widths: widths, activation: activation, weights: weights, biases: biases) else {
            throw SafeTensors.Failure(name, "inconsistent layer shapes")
        }
        func vector(_ key: String, count: Int) throws(SafeTensors.Failure) -> [Float]? {
            guard let text = file.metadata[key] else { return nil }
            guard let any = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [NSNumber], any.count == count else {
                throw SafeTensors.Failure(name, "__metadata__.\(key) must be a JSON list of \(count) numbers")
            }
            let values = any.map(\.floatValue)
            if let k = values.firstIndex(where: { !$0.isFinite }) {
                throw SafeTensors.Failure(name, "__metadata__.\(key)[\(k)] = \(any[k]) is not a finite Float32")
            }
            return values
        }
        if let v = try vector("input_mean", count: mlp.inputSize) { mlp.inputMean = v }
        if let v = try vector("input_std", count: mlp.inputSize) { mlp.inputScale = v }
        if let v = try vector("output_mean", count: mlp.outputSize) { mlp.outputMean = v }
        if let v = try vector("output_std", count: mlp.outputSize) { mlp.outputScale = v }
        guard mlp.inputScale.allSatisfy({ $0 > 0 && $0.isFinite }), mlp.outputScale.allSatisfy({ $0.isFinite }) else {
            throw SafeTensors.Failure(name, "normaliser standard deviations must be positive and finite")
        }
        try checkNumericMetadata(file.metadata, name: name)
        return (mlp, file.metadata)
    }

    /// Metadata that must be a positive finite number when present (`dt`, s).
    static func checkNumericMetadata(_ metadata: [String: String], name: String) throws(SafeTensors.Failure) {
        for key in ["dt"] {
            guard let text = metadata[key] else { continue }
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, value > 0 else {
                throw SafeTensors.Failure(name, "__metadata__.\(key) \"\(text)\" is not a positive finite number")
            }
        }
    }

    /// The median CPU time of one forward pass of `mlp` over `passes` passes (after one
    /// warm-up), measured with the calling thread's CPU clock — what the pass costs the thread
    /// that runs it, not the wall time a stalled or shared machine would add.
    public static func medianForwardSeconds(_ mlp: MLP, passes: Int = 7) -> Double {
        var ws = mlp.makeWorkspace()
        let input = [Float](repeating: 0.1, count: mlp.inputSize)
        var output = [Float](repeating: 0, count: mlp.outputSize)
        mlp.forward(&ws, input: input, output: &output)
        var times: [Double] = []
        for _ in 0 ..< max(1, passes) {
            let t0 = threadCPUSeconds()
            mlp.forward(&ws, input: input, output: &output)
            times.append(threadCPUSeconds() - t0)
        }
        return times.sorted()[times.count / 2]
    }

    /// The calling thread's CPU time (s). The corresponding C function is `clock_gettime` with
    /// `CLOCK_THREAD_CPUTIME_ID`.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Refuses a network whose forward pass cannot run in the tick: the median of a few passes
    /// (`medianForwardSeconds`) must not exceed `fraction` × `period`.
    /// - Throws: naming the measured median and the budget.
    public static func checkInferenceBudget(_ mlp: MLP, period: Double, fraction: Double, name: String) throws(SafeTensors.Failure) {
        let median = medianForwardSeconds(mlp)
        let budget = fraction * period
        guard median <= budget else {
            throw SafeTensors.Failure(name, String(format: "one forward pass of the %@ network takes %.3f ms of CPU (median of 7), over the budget of %.3f ms (policy.max_inference_fraction %.2f × the %.3f ms loop period)",
                                                   mlp.widths.map(String.init).joined(separator: "-"), median * 1e3, budget * 1e3, fraction, period * 1e3))
        }
    }

    public static func file(for mlp: MLP, metadata: [String: String] = [:]) -> SafeTensors.File {
        var tensors: [String: SafeTensors.Tensor] = [:]
        let weights = mlp.weights, biases = mlp.biases
        for l in 0 ..< mlp.layerCount {
            tensors["\(2 * l).weight"] = SafeTensors.Tensor(weights[l], shape: [mlp.widths[l + 1], mlp.widths[l]])
            tensors["\(2 * l).bias"] = SafeTensors.Tensor(biases[l], shape: [mlp.widths[l + 1]])
        }
        func list(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
        var m = metadata
        m["activation"] = mlp.activation.rawValue
        m["architecture"] = mlp.widths.map(String.init).joined(separator: "-")
        m["input_mean"] = list(mlp.inputMean)
        m["input_std"] = list(mlp.inputScale)
        m["output_mean"] = list(mlp.outputMean)
        m["output_std"] = list(mlp.outputScale)
        return SafeTensors.File(tensors: tensors, metadata: m)
    }
}

/// Ensembles in one safetensors file: member k's layers are `m<k>.<i>.weight` / `m<k>.<i>.bias`
/// (each member an nn.Sequential as in `MLPFile`), its metadata keys `m<k>.activation`,
/// `m<k>.input_mean`, …; file-wide keys (`robot`, `kind`, `dt`, `provenance`, `members`) are unprefixed.
public enum EnsembleFile {
    public static func file(members: [MLP], metadata: [String: String] = [:]) -> SafeTensors.File {
        var tensors: [String: SafeTensors.Tensor] = [:]
        var meta = metadata
        meta["members"] = "\(members.count)"
        for (k, mlp) in members.enumerated() {
            let f = MLPFile.file(for: mlp)
            for (name, t) in f.tensors { tensors["m\(k).\(name)"] = t }
            for (key, value) in f.metadata { meta["m\(k).\(key)"] = value }
        }
        return SafeTensors.File(tensors: tensors, metadata: meta)
    }

    public static func load(path: String) throws(SafeTensors.Failure) -> ([MLP], [String: String]) {
        try members(from: try SafeTensors.read(path: path), name: path)
    }

    /// The members of an already decoded ensemble file (`name` for errors).
    public static func members(from file: SafeTensors.File, name path: String) throws(SafeTensors.Failure) -> ([MLP], [String: String]) {
        guard let countText = file.metadata["members"], let count = Int(countText), count >= 1, count <= 64 else {
            throw SafeTensors.Failure(path, "not an ensemble file: __metadata__.members must give the member count (1…64)")
        }
        var members: [MLP] = []
        for k in 0 ..< count {
            let prefix = "m\(k)."
            var sub = SafeTensors.File(tensors: [:], metadata: [:])
            for (name, t) in file.tensors where name.hasPrefix(prefix) { sub.tensors[String(name.dropFirst(prefix.count))] = t }
            for (key, v) in file.metadata where key.hasPrefix(prefix) { sub.metadata[String(key.dropFirst(prefix.count))] = v }
            guard !sub.tensors.isEmpty else { throw SafeTensors.Failure(path, "member \(k) has no tensors (expected \"\(prefix)0.weight\", …)") }
            members.append(try MLPFile.mlp(from: sub, name: "\(path) (member \(k))").0)
        }
        try MLPFile.checkNumericMetadata(file.metadata, name: path)
        guard members.allSatisfy({ $0.widths == members[0].widths }) else {
            throw SafeTensors.Failure(path, "members have different architectures")
        }
        return (members, file.metadata.filter { !$0.key.hasPrefix("m") || Int($0.key.dropFirst().prefix { $0 != "." }) == nil })
    }
}
