import Foundation
@testable import Parquet
import Testing

/// Files from ParquetWriter read back by pyarrow (Tests/oracles/parquet_read.py): types,
/// nullability, values bit for bit, row counts and footer metadata as written.
@Suite struct ParquetWriterTests {
    static let everyType = try! ParquetSchema([
        ParquetColumn("i", .int64), ParquetColumn("f", .float), ParquetColumn("d", .double),
        ParquetColumn("b", .boolean), ParquetColumn("s", .string),
        ParquetColumn("observation.state", .list(.float)), ParquetColumn("stats/mean", .list(.double)),
        ParquetColumn("counts", .list(.int64)), ParquetColumn("tasks", .list(.string)),
    ])

    /// Rows that reach the edges: extreme and negative integers, ±0, ±∞, NaN, subnormals,
    /// non-ASCII and empty strings, empty and uneven lists (definition level 0), 37 rows so
    /// bit-packed runs end mid-byte.
    static func everyTypeValues(rows: Int = 37) -> [ParquetColumnValues] {
        let ints: [Int64] = (0..<rows).map { r in [Int64.min, Int64.max, 0, -1][r % 4] &+ Int64(r) * 7_919 }
        let floats: [Float] = (0..<rows).map { r in [0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, 1.5e-3][r % 7] + Float(r % 3) }
        let doubles: [Double] = (0..<rows).map { r in [.pi, -.greatestFiniteMagnitude, .leastNormalMagnitude, -0.0][r % 4] * Double(r + 1) }
        let bools = (0..<rows).map { $0 % 3 == 0 || $0 % 5 == 0 }
        let strings = (0..<rows).map { r in ["", "push the cube", "grüße, 机器人 🤖", "a\u{0}b", String(repeating: "z", count: r)][r % 5] }
        let floatLists = ParquetLists<Float>((0..<rows).map { r in (0..<(r % 4)).map { Float(r) + Float($0) / 8 } })
        let doubleLists = ParquetLists<Double>((0..<rows).map { r in (0..<((r * 7) % 20)).map { Double(r) - Double($0) * 1e-9 } })
        let intLists = ParquetLists<Int64>((0..<rows).map { r in r % 6 == 0 ? [] : [Int64(r), -Int64(r) << 40] })
        let stringLists = ParquetLists<String>((0..<rows).map { r in Array(strings[0..<(r % 3)]) })
        return [.int64(ints), .float(floats), .double(doubles), .boolean(bools), .string(strings),
                .floatLists(floatLists), .doubleLists(doubleLists), .int64Lists(intLists), .stringLists(stringLists)]
    }

    @Test func everyTypeReadsBackInPyArrowWithItsMetadata() throws {
        let metadata = [ParquetKeyValue("pandas", #"{"index_columns": ["__index_level_0__"]}"#), ParquetKeyValue("note", "ünïcode")]
        let writer = try ParquetWriter(schema: Self.everyType, keyValueMetadata: metadata, createdBy: "robotd test")
        let values = Self.everyTypeValues()
        let file = try PyArrowOracle.read(try writer.fileBytes(values))
        PyArrowOracle.expectMatches(file, Self.everyType, values, metadata: metadata, createdBy: "robotd test")
    }

    /// Every shape of level run: lists all of one element (repetition levels one RLE run of 0),
    /// all empty (definition levels one RLE run of 0), fixed width, one row, and the bit-packed mix.
    @Test func listsOfEveryShapeReadBack() throws {
        let schema = try ParquetSchema([
            ParquetColumn("single", .list(.int64)), ParquetColumn("empty", .list(.float)),
            ParquetColumn("fixed", .list(.float)), ParquetColumn("mixed", .list(.double)),
        ])
        let rows = 21
        let values: [ParquetColumnValues] = [
            .int64Lists(ParquetLists((0..<rows).map { [Int64($0)] })),
            .floatLists(ParquetLists([[Float]](repeating: [], count: rows))),
            .floatLists(ParquetLists(flat: (0..<(rows * 6)).map { Float($0) / 3 }, width: 6)),
            .doubleLists(ParquetLists((0..<rows).map { r in r % 2 == 0 ? [] : Array(repeating: Double(r), count: r) })),
        ]
        let files = try PyArrowOracle.read([
            try ParquetWriter(schema: schema).fileBytes(values),
            try ParquetWriter(schema: schema).fileBytes(values.map { Self.firstRow(of: $0) }),
        ])
        PyArrowOracle.expectMatches(files[0], schema, values)
        PyArrowOracle.expectMatches(files[1], schema, values.map { Self.firstRow(of: $0) })
    }

    static func firstRow(of values: ParquetColumnValues) -> ParquetColumnValues {
        switch values {
        case .int64Lists(let l): .int64Lists(ParquetLists([Array(l[row: 0])]))
        case .floatLists(let l): .floatLists(ParquetLists([Array(l[row: 0])]))
        case .doubleLists(let l): .doubleLists(ParquetLists([Array(l[row: 0])]))
        default: preconditionFailure("lists only")
        }
    }

    /// A small page target cuts every column chunk into many pages, each ending at a row: the
    /// values read back the same as from one page per chunk.
    @Test func manySmallPagesReadBackTheSame() throws {
        let values = Self.everyTypeValues(rows: 200)
        let onePage = try ParquetWriter(schema: Self.everyType).fileBytes(values)
        let smallPages = try ParquetWriter(schema: Self.everyType, pageSizeTarget: 40).fileBytes(values)
        #expect(smallPages.count > onePage.count + 100 * 8, "small pages add a page header per few rows")
        let files = try PyArrowOracle.read([onePage, smallPages])
        PyArrowOracle.expectMatches(files[0], Self.everyType, values)
        PyArrowOracle.expectMatches(files[1], Self.everyType, values)
    }

    /// A LeRobot-sized data file: 10⁵ frames of 6-joint state and action at the default page
    /// size (several pages per list column).
    @Test func hundredThousandRows() throws {
        let rows = 100_000
        let schema = try ParquetSchema([
            ParquetColumn("observation.state", .list(.float)), ParquetColumn("action", .list(.float)),
            ParquetColumn("timestamp", .float), ParquetColumn("index", .int64), ParquetColumn("intervention", .boolean),
            ParquetColumn("time", .double), ParquetColumn("task", .string),
        ])
        let values: [ParquetColumnValues] = [
            .floatLists(ParquetLists(flat: (0..<(rows * 6)).map { Float($0) * 1e-3 }, width: 6)),
            .floatLists(ParquetLists(flat: (0..<(rows * 6)).map { -Float($0) * 1e-3 }, width: 6)),
            .float((0..<rows).map { Float($0 % 500) / 50 }),
            .int64((0..<rows).map(Int64.init)),
            .boolean((0..<rows).map { $0 % 97 < 10 }),
            .double((0..<rows).map { Double($0) / 3 }),
            .string((0..<rows).map { "task \($0 % 13)" }),
        ]
        PyArrowOracle.expectMatches(try PyArrowOracle.read(try ParquetWriter(schema: schema).fileBytes(values)), schema, values)
    }

    /// Strings longer than a page target and than a varint byte, beside empty ones.
    @Test func longStrings() throws {
        let schema = try ParquetSchema([ParquetColumn("text", .string)])
        let strings = ["", String(repeating: "é", count: 3_000_000), "short", String(repeating: "0123456789", count: 20_000), ""]
        let values: [ParquetColumnValues] = [.string(strings)]
        PyArrowOracle.expectMatches(try PyArrowOracle.read(try ParquetWriter(schema: schema).fileBytes(values)), schema, values)
    }

    /// Zero rows are written validly: the schema, num_rows = 0 and no row group.
    @Test func zeroRowsWriteAValidEmptyFile() throws {
        let values: [ParquetColumnValues] = [.int64([]), .float([]), .double([]), .boolean([]), .string([]),
                                             .floatLists(ParquetLists()), .doubleLists(ParquetLists()), .int64Lists(ParquetLists()),
                                             .stringLists(ParquetLists())]
        let metadata = [ParquetKeyValue("k", "v")]
        let bytes = try ParquetWriter(schema: Self.everyType, keyValueMetadata: metadata).fileBytes(values)
        PyArrowOracle.expectMatches(try PyArrowOracle.read(bytes), Self.everyType, values, metadata: metadata)
    }

    /// One INT64 column `x` = [1, 2], annotated byte by byte (Thrift compact field headers are
    /// `delta << 4 | type`: i32 5, i64 6, binary 8, list 9, struct C). pyarrow reads the same bytes.
    static let golden: [UInt8] = [
        0x50, 0x41, 0x52, 0x31,  // "PAR1"
        // offset 4: PageHeader
        0x15, 0x00,  // 1 type: DATA_PAGE (0)
        0x15, 0x20,  // 2 uncompressed_page_size: 16
        0x15, 0x20,  // 3 compressed_page_size: 16
        0x2C,  // 5 data_page_header: DataPageHeader
        0x15, 0x04,  //   1 num_values: 2
        0x15, 0x00,  //   2 encoding: PLAIN
        0x15, 0x06,  //   3 definition_level_encoding: RLE (3)
        0x15, 0x06,  //   4 repetition_level_encoding: RLE
        0x00,  //   stop
        0x00,  // stop
        // offset 21: PLAIN INT64 values, no levels (REQUIRED, not repeated)
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        // offset 37: FileMetaData
        0x15, 0x02,  // 1 version: 1
        0x19, 0x2C,  // 2 schema: list of 2 structs
        0x48, 0x06, 0x73, 0x63, 0x68, 0x65, 0x6D, 0x61,  //   root: 4 name "schema"
        0x15, 0x02, 0x00,  //         5 num_children: 1, stop
        0x15, 0x04,  //   x:    1 type: INT64 (2)
        0x25, 0x00,  //         3 repetition_type: REQUIRED
        0x18, 0x01, 0x78, 0x00,  //         4 name "x", stop
        0x16, 0x04,  // 3 num_rows: 2
        0x19, 0x1C,  // 4 row_groups: list of 1 struct
        0x19, 0x1C,  //   1 columns: list of 1 ColumnChunk
        0x26, 0x08,  //     2 file_offset: 4
        0x1C,  //     3 meta_data: ColumnMetaData
        0x15, 0x04,  //       1 type: INT64
        0x19, 0x15, 0x00,  //       2 encodings: list of 1 i32: PLAIN
        0x19, 0x18, 0x01, 0x78,  //       3 path_in_schema: ["x"]
        0x15, 0x00,  //       4 codec: UNCOMPRESSED
        0x16, 0x04,  //       5 num_values: 2
        0x16, 0x42,  //       6 total_uncompressed_size: 33 (17 header + 16 body)
        0x16, 0x42,  //       7 total_compressed_size: 33
        0x26, 0x08,  //       9 data_page_offset: 4
        0x00, 0x00,  //     stop ColumnMetaData, stop ColumnChunk
        0x16, 0x42,  //   2 total_byte_size: 33
        0x16, 0x04,  //   3 num_rows: 2
        0x00,  //   stop RowGroup
        0x28, 0x06, 0x72, 0x6F, 0x62, 0x6F, 0x74, 0x64,  // 6 created_by: "robotd"
        0x00,  // stop FileMetaData
        0x43, 0x00, 0x00, 0x00,  // FileMetaData length: 67
        0x50, 0x41, 0x52, 0x31,  // "PAR1"
    ]

    @Test func tinyFileMatchesGoldenBytesThatPyArrowReads() throws {
        let schema = try ParquetSchema([ParquetColumn("x", .int64)])
        let bytes = try ParquetWriter(schema: schema).fileBytes([.int64([1, 2])])
        #expect(bytes == Self.golden)
        PyArrowOracle.expectMatches(try PyArrowOracle.read(Self.golden), schema, [.int64([1, 2])])
    }

    // MARK: refusals

    @Test func schemasWithoutColumnsOrWithEmptyOrRepeatedNamesAreRefused() {
        #expect(throws: ParquetError(.invalidSchema, "")) { try ParquetSchema([]) }
        #expect(throws: ParquetError(.invalidSchema, "")) { try ParquetSchema([ParquetColumn("", .int64)]) }
        let error = #expect(throws: ParquetError.self) { try ParquetSchema([ParquetColumn("a", .int64), ParquetColumn("a", .float)]) }
        #expect(error?.code == .invalidSchema)
        #expect(error?.description == "parquet: column name 'a' appears twice")
    }

    @Test func emptyOrRepeatedMetadataKeysAreRefused() throws {
        let schema = try ParquetSchema([ParquetColumn("x", .int64)])
        #expect(throws: ParquetError(.invalidMetadata, "")) { try ParquetWriter(schema: schema, keyValueMetadata: [ParquetKeyValue("", "v")]) }
        let error = #expect(throws: ParquetError.self) {
            try ParquetWriter(schema: schema, keyValueMetadata: [ParquetKeyValue("pandas", "1"), ParquetKeyValue("pandas", "2")])
        }
        #expect(error?.code == .invalidMetadata)
        #expect(error?.message.contains("'pandas'") == true)
    }

    @Test func valuesThatDoNotFitTheSchemaAreRefusedNamingTheColumn() throws {
        let schema = try ParquetSchema([ParquetColumn("a", .int64), ParquetColumn("q", .list(.float))])
        let writer = try ParquetWriter(schema: schema)
        let wrongCount = #expect(throws: ParquetError.self) { try writer.fileBytes([.int64([1])]) }
        #expect(wrongCount?.code == .columnMismatch)
        let wrongType = #expect(throws: ParquetError.self) { try writer.fileBytes([.int64([1]), .doubleLists(ParquetLists([[1]]))]) }
        #expect(wrongType?.code == .columnMismatch)
        #expect(wrongType?.message.contains("'q'") == true)
        let wrongRows = #expect(throws: ParquetError.self) { try writer.fileBytes([.int64([1, 2]), .floatLists(ParquetLists([[1]]))]) }
        #expect(wrongRows?.code == .rowCountMismatch)
        #expect(wrongRows?.description == "parquet: column 'q' has 1 rows, column 'a' has 2")
    }

    @Test func flatListsCutIntoRowsOfTheWidth() {
        let lists = ParquetLists(flat: [1, 2, 3, 4, 5, 6] as [Float], width: 3)
        #expect(lists.rowCount == 2)
        #expect(Array(lists[row: 1]) == [4, 5, 6])
        #expect(ParquetLists(flat: [] as [Float], width: 3).rowCount == 0)
    }
}
