import Foundation
import Testing

@testable import ModelFiles

/// Headers a corrupt or hostile file can carry: each is refused with the tensor and the reason,
/// never a trap.
@Suite struct SafeTensorsHostileTests {
    /// A file with `header` (JSON text) and `data`.
    static func file(header: String, data: [UInt8] = []) -> [UInt8] {
        let json = Array(header.utf8)
        var out: [UInt8] = (0 ..< 8).map { UInt8((UInt64(json.count) >> (8 * UInt64($0))) & 0xFF) }
        out += json
        return out + data
    }

    static func reason(_ bytes: [UInt8]) -> String {
        do {
            let file = try SafeTensors.decode(bytes, name: "m.safetensors")
            // What a caller does next with an accepted file: this trapped on a wrapped shape.
            for tensor in file.tensors.values { _ = tensor.floats }
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test(arguments: [
        // 2^62 × 4 bytes overflows Int: trapped in decode.
        #"{"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#,
        // 2^32 · 2^32 wraps to 0, matching an empty range: trapped later in `floats`.
        #"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#,
        #"{"t":{"dtype":"U8","shape":[2,4611686018427387904,2],"data_offsets":[0,0]}}"#,
    ])
    func shapesWhoseByteCountOverflowAreRefused(_ header: String) {
        let reason = Self.reason(Self.file(header: header))
        #expect(reason.hasPrefix(#"m.safetensors: tensor "t": shape ["#) && reason.contains("more bytes than memory can hold"), "\(reason)")
    }

    @Test(arguments: [
        (#"{"t":{"dtype":"U8","shape":[2.5],"data_offsets":[0,2]}}"#, "shape[0] = 2.5 is not a non-negative integer"),
        (#"{"t":{"dtype":"U8","shape":[1e300],"data_offsets":[0,0]}}"#, "shape[0] = 1e+300 is not a non-negative integer"),
        (#"{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2.0001]}}"#, "data_offsets[1] = 2.0001 is not an integer"),
        (#"{"t":{"dtype":"U8","shape":[0],"data_offsets":[1e300,1e300]}}"#, "data_offsets[0] = 1e+300 is not an integer"),
        (#"{"t":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}"#, "data_offsets[0] = 18446744073709551615 is not an integer"),
    ])
    func nonIntegerShapesAndOffsetsAreRefused(_ header: String, _ fragment: String) {
        let reason = Self.reason(Self.file(header: header, data: [1, 2]))
        #expect(reason.contains(fragment), "\(reason)")
    }

    /// Names and metadata with every character JSON escapes survive a write and a read by
    /// Foundation's JSON parser (the encoder no longer goes through JSONSerialization).
    @Test func namesAndMetadataWithEscapedCharactersRoundTrip() throws {
        let tricky = "q\"b\\s/n\nr\rt\tb\u{08}f\u{0C}c\u{01}\u{1F}é😀"
        let file = SafeTensors.File(
            tensors: [tricky: SafeTensors.Tensor([1, 2], shape: [2]), "plain": SafeTensors.Tensor([], shape: [0])],
            metadata: [tricky: tricky, "k": ""]
        )
        let bytes = SafeTensors.encode(file)
        #expect(try SafeTensors.decode(bytes, name: "x") == file)
        // The header is plain JSON to any reader.
        let length = Int(bytes[0]) | Int(bytes[1]) << 8
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8 ..< 8 + length])) as? [String: Any])
        #expect((header["__metadata__"] as? [String: String])?[tricky] == tricky)
    }

    @Test func readingRefusesWhatIsNotARegularFile() {
        // /dev/zero was read until memory ran out.
        for path in ["/dev/zero", "/tmp"] {
            do {
                _ = try SafeTensors.read(path: path)
                Issue.record("\(path) was read")
            } catch {
                #expect(error.description == "\(path): not a regular file (a device, directory, FIFO or socket)")
            }
        }
    }
}
