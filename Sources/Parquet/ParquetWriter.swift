// A minimal Parquet writer (apache/parquet-format src/main/thrift/parquet.thrift): PLAIN values,
// UNCOMPRESSED, data pages v1, one row group, REQUIRED columns and REQUIRED lists of REQUIRED
// values. The subset a LeRobot v3 export needs (datasets-and-imitation.md §2.3); pyarrow is the
// oracle (Tests/ParquetTests).

#if _endian(big)
#error("ParquetWriter copies numbers' memory as PLAIN's little-endian bytes")
#endif

/// Builds a whole Parquet file's bytes from column arrays; the caller writes them out.
///
/// File = `PAR1` · one column chunk per column (its pages: Thrift PageHeader + body) ·
/// FileMetaData (Thrift compact) · its length (u32 LE) · `PAR1`. All columns go into one row group.
/// A column chunk is cut into pages of about `pageSizeTarget` value bytes, always at row boundaries.
///
/// Zero rows: the file is written validly, with the schema, `num_rows = 0` and no row group.
///
/// - Warning: Not real-time safe (allocates the whole file).
public struct ParquetWriter: Sendable {
    public let schema: ParquetSchema
    public let keyValueMetadata: [ParquetKeyValue]
    public let createdBy: String
    /// Value bytes after which a page is closed (at the end of the current row).
    public let pageSizeTarget: Int

    /// - Parameters:
    ///   - schema: the columns, in file order.
    ///   - keyValueMetadata: footer entries, in order (e.g. `pandas` for an index column).
    ///   - createdBy: FileMetaData.created_by.
    ///   - pageSizeTarget: value bytes per page before the next row boundary closes it (> 0).
    /// - Throws: `ParquetError.invalidMetadata` for an empty or repeated key.
    public init(
        schema: ParquetSchema, keyValueMetadata: [ParquetKeyValue] = [], createdBy: String = "robotd",
        pageSizeTarget: Int = 1 << 20
    ) throws(ParquetError) {
        precondition(pageSizeTarget > 0, "pageSizeTarget must be positive")
        var keys = Set<String>()
        for entry in keyValueMetadata {
            guard !entry.key.isEmpty else { throw ParquetError(.invalidMetadata, "a key-value metadata key is empty") }
            guard keys.insert(entry.key).inserted else {
                throw ParquetError(.invalidMetadata, "key-value metadata key '\(entry.key)' appears twice")
            }
        }
        self.schema = schema
        self.keyValueMetadata = keyValueMetadata
        self.createdBy = createdBy
        self.pageSizeTarget = pageSizeTarget
    }

    /// The file's bytes.
    /// - Parameter columns: one entry per schema column, in schema order, all of the same row count.
    /// - Throws: `ParquetError` naming the column: `.columnMismatch` (count or type), `.rowCountMismatch`,
    ///   `.tooLarge` (a page or string beyond 2³¹ − 1 bytes).
    public func fileBytes(_ columns: [ParquetColumnValues]) throws(ParquetError) -> [UInt8] {
        guard columns.count == schema.columns.count else {
            throw ParquetError(.columnMismatch, "\(columns.count) columns of values for a schema of \(schema.columns.count)")
        }
        for (column, values) in zip(schema.columns, columns) where values.type != column.type {
            throw ParquetError(.columnMismatch, "column '\(column.name)' is \(column.type) but its values are \(values.type)")
        }
        let rowCount = columns[0].rowCount
        for (column, values) in zip(schema.columns, columns) where values.rowCount != rowCount {
            throw ParquetError(.rowCountMismatch,
                               "column '\(column.name)' has \(values.rowCount) rows, column '\(schema.columns[0].name)' has \(rowCount)")
        }

        var file: [UInt8] = Array("PAR1".utf8)
        var chunks: [ChunkSummary] = []
        if rowCount > 0 {
            for (column, values) in zip(schema.columns, columns) {
                chunks.append(try writeChunk(column, values, rowCount: rowCount, into: &file))
            }
        }
        let footer = fileMetaData(rowCount: rowCount, chunks: chunks)
        file.append(contentsOf: footer)
        appendLittleEndian(UInt32(footer.count), to: &file)
        file.append(contentsOf: Array("PAR1".utf8))
        return file
    }

    // MARK: column chunks and pages

    /// What the footer says about a written column chunk.
    struct ChunkSummary {
        var physicalType: PhysicalType
        var path: [String]
        var hasLevels: Bool
        /// Level entries (values incl. empty lists) over all pages.
        var valueCount: Int64
        /// Page headers plus bodies.
        var byteCount: Int64
        var firstPageOffset: Int64
    }

    private func writeChunk(
        _ column: ParquetColumn, _ values: ParquetColumnValues, rowCount: Int, into file: inout [UInt8]
    ) throws(ParquetError) -> ChunkSummary {
        let start = file.count
        var valueCount: Int64 = 0
        for rows in try pageRowRanges(column, values, rowCount: rowCount) {
            let page = PageBody(values, rows: rows)
            guard page.bytes.count <= Int(Int32.max), page.levelCount <= Int(Int32.max) else {
                throw ParquetError(.tooLarge, "column '\(column.name)': a page of rows \(rows) is \(page.bytes.count) bytes, more than Parquet's 2³¹ − 1")
            }
            var header = ThriftCompactWriter()
            header.writeStruct { h in
                h.writeI32Field(1, PageType.dataPage)
                h.writeI32Field(2, Int32(page.bytes.count))  // uncompressed_page_size
                h.writeI32Field(3, Int32(page.bytes.count))  // compressed_page_size
                h.writeStructField(5) { d in  // DataPageHeader
                    d.writeI32Field(1, Int32(page.levelCount))
                    d.writeI32Field(2, Encoding.plain)
                    d.writeI32Field(3, Encoding.rle)  // definition levels
                    d.writeI32Field(4, Encoding.rle)  // repetition levels
                }
            }
            file.append(contentsOf: header.bytes)
            file.append(contentsOf: page.bytes)
            valueCount += Int64(page.levelCount)
        }
        let isList = if case .list = column.type { true } else { false }
        return ChunkSummary(
            physicalType: PhysicalType(column.type), path: isList ? [column.name, "list", "element"] : [column.name],
            hasLevels: isList, valueCount: valueCount, byteCount: Int64(file.count - start), firstPageOffset: Int64(start))
    }

    /// Row ranges of about `pageSizeTarget` value bytes each, covering 0..<rowCount.
    /// - Throws: `.tooLarge` for a row that alone exceeds a page's 2³¹ − 1 bytes.
    private func pageRowRanges(
        _ column: ParquetColumn, _ values: ParquetColumnValues, rowCount: Int
    ) throws(ParquetError) -> [Range<Int>] {
        // A row's PLAIN bytes; strings and lists vary, the rest are fixed (bool rounded up to a byte).
        let rowBytes: (Int) -> Int = switch values {
        case .int64, .double: { _ in 8 }
        case .float: { _ in 4 }
        case .boolean: { _ in 1 }
        case .string(let v): { 4 + v[$0].utf8.count }
        case .int64Lists(let l): { 1 + 8 * l[row: $0].count }
        case .floatLists(let l): { 1 + 4 * l[row: $0].count }
        case .doubleLists(let l): { 1 + 8 * l[row: $0].count }
        case .stringLists(let l): { 1 + l[row: $0].reduce(0) { $0 + 4 + $1.utf8.count } }
        }
        var ranges: [Range<Int>] = []
        var start = 0, bytes = 0
        for r in 0..<rowCount {
            let size = rowBytes(r)
            guard size < Int(Int32.max) / 2 else {
                throw ParquetError(.tooLarge, "column '\(column.name)': row \(r) is \(size) bytes, more than a Parquet page holds (2³⁰)")
            }
            bytes += size
            if bytes >= pageSizeTarget {
                ranges.append(start..<(r + 1))
                start = r + 1
                bytes = 0
            }
        }
        if start < rowCount { ranges.append(start..<rowCount) }
        return ranges
    }

    // MARK: footer

    /// FileMetaData: 1 version · 2 schema (depth-first, root first) · 3 num_rows · 4 row_groups ·
    /// 5 key_value_metadata · 6 created_by.
    private func fileMetaData(rowCount: Int, chunks: [ChunkSummary]) -> [UInt8] {
        var w = ThriftCompactWriter()
        w.writeStruct { m in
            m.writeI32Field(1, 1)
            let elementCount = 1 + schema.columns.reduce(0) { n, c in if case .list = c.type { n + 3 } else { n + 1 } }
            m.writeListFieldHeader(2, .struct, count: elementCount)
            m.writeStruct { root in
                root.writeStringField(4, "schema")
                root.writeI32Field(5, Int32(schema.columns.count))
            }
            for column in schema.columns { Self.writeSchemaElements(column, into: &m) }
            m.writeI64Field(3, Int64(rowCount))
            m.writeListFieldHeader(4, .struct, count: chunks.isEmpty ? 0 : 1)
            if !chunks.isEmpty {
                m.writeStruct { g in  // RowGroup: 1 columns · 2 total_byte_size · 3 num_rows
                    g.writeListFieldHeader(1, .struct, count: chunks.count)
                    for chunk in chunks { Self.writeColumnChunk(chunk, into: &g) }
                    g.writeI64Field(2, chunks.reduce(0) { $0 + $1.byteCount })
                    g.writeI64Field(3, Int64(rowCount))
                }
            }
            if !keyValueMetadata.isEmpty {
                m.writeListFieldHeader(5, .struct, count: keyValueMetadata.count)
                for entry in keyValueMetadata {
                    m.writeStruct { kv in
                        kv.writeStringField(1, entry.key)
                        kv.writeStringField(2, entry.value)
                    }
                }
            }
            m.writeStringField(6, createdBy)
        }
        return w.bytes
    }

    /// SchemaElement: 1 type · 3 repetition_type · 4 name · 5 num_children · 6 converted_type ·
    /// 10 logicalType. A list is three elements: the REQUIRED LIST-annotated group named after the
    /// column, its REPEATED group `list`, and the REQUIRED leaf `element`.
    private static func writeSchemaElements(_ column: ParquetColumn, into m: inout ThriftCompactWriter) {
        switch column.type {
        case .list(let element):
            m.writeStruct { s in
                s.writeI32Field(3, Repetition.required)
                s.writeStringField(4, column.name)
                s.writeI32Field(5, 1)
                s.writeI32Field(6, ConvertedType.list)
                s.writeStructField(10) { $0.writeStructField(LogicalType.list) { _ in } }
            }
            m.writeStruct { s in
                s.writeI32Field(3, Repetition.repeated)
                s.writeStringField(4, "list")
                s.writeI32Field(5, 1)
            }
            m.writeStruct { s in
                s.writeI32Field(1, PhysicalType(.list(element)).rawValue)
                s.writeI32Field(3, Repetition.required)
                s.writeStringField(4, "element")
                if element == .string { Self.writeStringAnnotation(into: &s) }
            }
        case .int64, .float, .double, .boolean, .string:
            m.writeStruct { s in
                s.writeI32Field(1, PhysicalType(column.type).rawValue)
                s.writeI32Field(3, Repetition.required)
                s.writeStringField(4, column.name)
                if column.type == .string { Self.writeStringAnnotation(into: &s) }
            }
        }
    }

    /// 6 converted_type UTF8 · 10 logicalType STRING: a BYTE_ARRAY leaf that holds UTF-8 text.
    private static func writeStringAnnotation(into s: inout ThriftCompactWriter) {
        s.writeI32Field(6, ConvertedType.utf8)
        s.writeStructField(10) { $0.writeStructField(LogicalType.string) { _ in } }
    }

    /// ColumnChunk: 2 file_offset (the first page, as parquet-mr and older parquet-cpp write it) ·
    /// 3 ColumnMetaData: 1 type · 2 encodings · 3 path_in_schema · 4 codec · 5 num_values ·
    /// 6 total_uncompressed_size · 7 total_compressed_size · 9 data_page_offset.
    private static func writeColumnChunk(_ chunk: ChunkSummary, into g: inout ThriftCompactWriter) {
        g.writeStruct { c in
            c.writeI64Field(2, chunk.firstPageOffset)
            c.writeStructField(3) { md in
                md.writeI32Field(1, chunk.physicalType.rawValue)
                let encodings = chunk.hasLevels ? [Encoding.plain, Encoding.rle] : [Encoding.plain]
                md.writeListFieldHeader(2, .i32, count: encodings.count)
                for e in encodings { md.writeI32(e) }
                md.writeListFieldHeader(3, .binary, count: chunk.path.count)
                for p in chunk.path { md.writeString(p) }
                md.writeI32Field(4, Codec.uncompressed)
                md.writeI64Field(5, chunk.valueCount)
                md.writeI64Field(6, chunk.byteCount)
                md.writeI64Field(7, chunk.byteCount)
                md.writeI64Field(9, chunk.firstPageOffset)
            }
        }
    }
}

// MARK: Parquet's enums (parquet.thrift)

/// `Type`: the physical type of a leaf.
enum PhysicalType: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, float = 4, double = 5, byteArray = 6

    init(_ type: ParquetColumnType) {
        self = switch type {
        case .int64, .list(.int64): .int64
        case .float, .list(.float): .float
        case .double, .list(.double): .double
        case .boolean: .boolean
        case .string, .list(.string): .byteArray
        }
    }
}

/// `FieldRepetitionType`.
enum Repetition {
    static let required: Int32 = 0
    static let repeated: Int32 = 2
}

/// `ConvertedType` (the legacy annotation old readers need beside the logical type).
enum ConvertedType {
    static let utf8: Int32 = 0
    static let list: Int32 = 3
}

/// `LogicalType` union field ids (each an empty struct).
enum LogicalType {
    static let string: Int16 = 1
    static let list: Int16 = 3
}

/// `Encoding`.
enum Encoding {
    static let plain: Int32 = 0
    static let rle: Int32 = 3
}

/// `CompressionCodec`.
enum Codec {
    static let uncompressed: Int32 = 0
}

/// `PageType`.
enum PageType {
    static let dataPage: Int32 = 0
}

func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
}
