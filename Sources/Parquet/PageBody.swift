/// A data page v1 body for some rows of a column:
/// `[u32 LE length + repetition levels]` `[u32 LE length + definition levels]` (lists only) · PLAIN values.
///
/// A REQUIRED list of REQUIRED values has max repetition = max definition = 1 (bit width 1). Each
/// element contributes one level entry: repetition 0 for a row's first element, 1 for the rest;
/// definition 1. An empty list contributes one entry (repetition 0, definition 0) and no value.
struct PageBody {
    var bytes: [UInt8] = []
    /// Level entries (DataPageHeader.num_values): rows for flat columns, elements plus empty lists
    /// for list columns.
    var levelCount = 0

    init(_ values: ParquetColumnValues, rows: Range<Int>) {
        switch values {
        case .int64(let v): appendPlain(v[rows]); levelCount = rows.count
        case .float(let v): appendPlain(v[rows]); levelCount = rows.count
        case .double(let v): appendPlain(v[rows]); levelCount = rows.count
        case .boolean(let v):
            appendBitPacked(v[rows])
            levelCount = rows.count
        case .string(let v):
            appendPlain(v[rows])
            levelCount = rows.count
        case .int64Lists(let l): appendList(l, rows) { $0.appendPlain($1) }
        case .floatLists(let l): appendList(l, rows) { $0.appendPlain($1) }
        case .doubleLists(let l): appendList(l, rows) { $0.appendPlain($1) }
        case .stringLists(let l): appendList(l, rows) { $0.appendPlain($1) }
        }
    }

    /// PLAIN for BYTE_ARRAY: each value's length (u32 LE), then its bytes.
    private mutating func appendPlain(_ values: ArraySlice<String>) {
        for s in values {
            let utf8 = s.utf8
            appendLittleEndian(UInt32(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    /// PLAIN for INT64/FLOAT/DOUBLE: the values' little-endian bytes, back to back.
    private mutating func appendPlain<T: BitwiseCopyable>(_ values: ArraySlice<T>) {
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// Bits LSB-first, 8 to a byte, the last byte zero-padded (PLAIN BOOLEAN and bit-packed runs).
    private mutating func appendBitPacked(_ bits: some Collection<Bool>) {
        var byte: UInt8 = 0, n = 0
        for bit in bits {
            if bit { byte |= 1 << UInt8(n) }
            n += 1
            if n == 8 {
                bytes.append(byte)
                byte = 0
                n = 0
            }
        }
        if n > 0 { bytes.append(byte) }
    }

    private mutating func appendList<T>(
        _ lists: ParquetLists<T>, _ rows: Range<Int>, values appendValues: (inout PageBody, ArraySlice<T>) -> Void
    ) {
        var repetition: [Bool] = [], definition: [Bool] = []
        let first = rows.lowerBound == 0 ? 0 : lists.rowEnds[rows.lowerBound - 1]
        let last = lists.rowEnds[rows.upperBound - 1]
        repetition.reserveCapacity(last - first + rows.count)
        definition.reserveCapacity(last - first + rows.count)
        for r in rows {
            let count = lists[row: r].count
            if count == 0 {
                repetition.append(false)
                definition.append(false)
            } else {
                repetition.append(false)
                definition.append(true)
                for _ in 1..<count {
                    repetition.append(true)
                    definition.append(true)
                }
            }
        }
        appendLevels(repetition)
        appendLevels(definition)
        appendValues(&self, lists.values[first..<last])
        levelCount = repetition.count
    }

    /// Levels of bit width 1 in the RLE/bit-packing hybrid, behind their u32 LE byte length:
    /// one RLE run `varint(count << 1)` + the value byte when all levels are equal, else one
    /// bit-packed run `varint(groups << 1 | 1)` + `groups` bytes of 8 levels each.
    private mutating func appendLevels(_ levels: [Bool]) {
        var encoded = ThriftCompactWriter()
        if let value = levels.first, levels.allSatisfy({ $0 == value }) {
            encoded.writeVarint(UInt64(levels.count) << 1)
            appendLittleEndian(UInt32(encoded.bytes.count + 1), to: &bytes)
            bytes.append(contentsOf: encoded.bytes)
            bytes.append(value ? 1 : 0)
        } else {
            let groups = (levels.count + 7) / 8
            encoded.writeVarint(UInt64(groups) << 1 | 1)
            appendLittleEndian(UInt32(encoded.bytes.count + groups), to: &bytes)
            bytes.append(contentsOf: encoded.bytes)
            appendBitPacked(levels)
        }
    }
}
