// Thrift's compact protocol, the encoding of every Parquet header and the footer
// (apache/thrift doc/specs/thrift-compact-protocol.md): only what a writer needs.

/// Compact-protocol type ids, as they appear in field headers and list headers.
enum ThriftType: UInt8 {
    case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
    case binary = 8, list = 9, set = 10, map = 11, `struct` = 12
}

/// Appends Thrift compact-protocol encodings to a byte array.
///
/// Field headers carry the id as a delta from the previous field of the same struct: one byte
/// `(delta << 4) | type` when 1 ≤ delta ≤ 15, otherwise the type byte followed by the id as a
/// zigzag varint. The delta restarts at 0 inside every nested struct (`writeStruct`), so fields
/// must be written in increasing id order within a struct, as Parquet's structs are.
struct ThriftCompactWriter {
    private(set) var bytes: [UInt8] = []
    /// The id of the last field written in the innermost open struct.
    private var lastFieldID: Int16 = 0

    init() {}

    /// ULEB128: 7 bits a byte, least significant group first, high bit = more follows.
    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zigzag maps signed to unsigned so small magnitudes stay short: 0, −1, 1, −2, … → 0, 1, 2, 3, ….
    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    mutating func writeI32(_ value: Int32) { writeVarint(Self.zigzag(Int64(value))) }
    mutating func writeI64(_ value: Int64) { writeVarint(Self.zigzag(value)) }

    /// Binary and string: varint length, then the bytes.
    mutating func writeBinary(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeString(_ value: String) { writeBinary(Array(value.utf8)) }

    /// `(count << 4) | type` for fewer than 15 elements, else `0xF0 | type` and a varint count.
    /// List elements carry no field headers.
    mutating func writeListHeader(_ elementType: ThriftType, count: Int) {
        precondition(count >= 0)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            writeVarint(UInt64(count))
        }
    }

    mutating func writeFieldHeader(_ type: ThriftType, id: Int16) {
        precondition(id > lastFieldID, "Thrift fields must be written in increasing id order")
        let delta = Int(id) - Int(lastFieldID)
        if delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            writeVarint(Self.zigzag(Int64(id)))
        }
        lastFieldID = id
    }

    /// A struct's fields written by `body`, then the stop byte 0x00. Used for list elements and,
    /// through `writeStructField`, for struct-valued fields.
    mutating func writeStruct(_ body: (inout ThriftCompactWriter) -> Void) {
        let saved = lastFieldID
        lastFieldID = 0
        body(&self)
        bytes.append(0)
        lastFieldID = saved
    }

    mutating func writeI32Field(_ id: Int16, _ value: Int32) {
        writeFieldHeader(.i32, id: id)
        writeI32(value)
    }

    mutating func writeI64Field(_ id: Int16, _ value: Int64) {
        writeFieldHeader(.i64, id: id)
        writeI64(value)
    }

    mutating func writeStringField(_ id: Int16, _ value: String) {
        writeFieldHeader(.binary, id: id)
        writeString(value)
    }

    mutating func writeStructField(_ id: Int16, _ body: (inout ThriftCompactWriter) -> Void) {
        writeFieldHeader(.struct, id: id)
        writeStruct(body)
    }

    /// A list field's header; the caller then writes `count` bare elements.
    mutating func writeListFieldHeader(_ id: Int16, _ elementType: ThriftType, count: Int) {
        writeFieldHeader(.list, id: id)
        writeListHeader(elementType, count: count)
    }
}
