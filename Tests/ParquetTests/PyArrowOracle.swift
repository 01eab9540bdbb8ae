import Foundation
import Parquet
import TestProcess
import Testing

/// pyarrow's reading of a Parquet file (Tests/oracles/parquet_read.py).
struct PyArrowFile: Decodable {
    struct Column: Decodable {
        var name: String
        var type: String
        var nullable: Bool
        var null_count: Int
        var lengths: [Int]?
        var element_nullable: Bool?
        var hex: String?
        var bits: String?
        var strings: [String]?
    }

    var error: String?
    var num_rows: Int?
    var metadata_num_rows: Int?
    var num_row_groups: Int?
    var created_by: String?
    var metadata: [String: String]?
    var columns: [Column]?
}

enum PyArrowOracle {
    /// Writes each file under a fresh temporary directory and returns pyarrow's reading of each.
    static func read(_ files: [[UInt8]]) throws -> [PyArrowFile] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parquet-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for (i, bytes) in files.enumerated() {
            let url = directory.appendingPathComponent("file-\(i).parquet")
            try Data(bytes).write(to: url)
            paths.append(url.path)
        }
        let run = try ChildProcess.python("Tests/oracles/parquet_read.py", paths)
        try #require(run.status == 0, "parquet_read.py failed: \(run.stderr)")
        let result = try JSONDecoder().decode([PyArrowFile].self, from: run.stdoutData)
        try #require(result.count == files.count)
        return result
    }

    static func read(_ file: [UInt8]) throws -> PyArrowFile { try read([file])[0] }

    /// The Arrow type pyarrow should report for a column written as `type`.
    static func arrowType(_ type: ParquetColumnType) -> String {
        switch type {
        case .int64: "int64"
        case .float: "float"
        case .double: "double"
        case .boolean: "bool"
        case .string: "string"
        case .list(.int64): "list<element: int64 not null>"
        case .list(.float): "list<element: float not null>"
        case .list(.double): "list<element: double not null>"
        case .list(.string): "list<element: string not null>"
        }
    }

    static func hex<T: BitwiseCopyable>(_ values: [T]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return values.withUnsafeBytes { raw in
            var out: [UInt8] = []
            out.reserveCapacity(raw.count * 2)
            for byte in raw {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Records an issue for every way pyarrow's reading differs from what was written: row
    /// counts, one row group (none for zero rows), types, nullability, values bit for bit, metadata.
    static func expectMatches(
        _ file: PyArrowFile, _ schema: ParquetSchema, _ columns: [ParquetColumnValues], metadata: [ParquetKeyValue] = [],
        createdBy: String = "robotd", sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard file.error == nil, let read = file.columns else {
            Issue.record("pyarrow could not read the file: \(file.error ?? "no columns")", sourceLocation: sourceLocation)
            return
        }
        let rows = columns.first?.rowCount ?? 0
        #expect(file.num_rows == rows, sourceLocation: sourceLocation)
        #expect(file.metadata_num_rows == rows, sourceLocation: sourceLocation)
        #expect(file.num_row_groups == (rows == 0 ? 0 : 1), sourceLocation: sourceLocation)
        #expect(file.created_by == createdBy, sourceLocation: sourceLocation)
        #expect(file.metadata == Dictionary(uniqueKeysWithValues: metadata.map { ($0.key, $0.value) }), sourceLocation: sourceLocation)
        #expect(read.map(\.name) == schema.columns.map(\.name), sourceLocation: sourceLocation)
        for (column, (values, got)) in zip(schema.columns, zip(columns, read)) {
            let name = column.name
            #expect(got.type == arrowType(column.type), "\(name)", sourceLocation: sourceLocation)
            #expect(!got.nullable, "\(name) should be not null", sourceLocation: sourceLocation)
            #expect(got.null_count == 0, "\(name)", sourceLocation: sourceLocation)
            switch values {
            case .int64(let v): #expect(got.hex == hex(v), "\(name)", sourceLocation: sourceLocation)
            case .float(let v): #expect(got.hex == hex(v), "\(name)", sourceLocation: sourceLocation)
            case .double(let v): #expect(got.hex == hex(v), "\(name)", sourceLocation: sourceLocation)
            case .boolean(let v): #expect(got.bits == String(v.map { $0 ? "1" : "0" }), "\(name)", sourceLocation: sourceLocation)
            case .string(let v): #expect(got.strings == v, "\(name)", sourceLocation: sourceLocation)
            case .int64Lists(let l): expectList(got, l, sourceLocation)
            case .floatLists(let l): expectList(got, l, sourceLocation)
            case .doubleLists(let l): expectList(got, l, sourceLocation)
            case .stringLists(let l):
                expectLengths(got, l, sourceLocation)
                #expect(got.strings == l.values, "\(name) values", sourceLocation: sourceLocation)
            }
        }
    }

    private static func expectList<T: BitwiseCopyable>(_ got: PyArrowFile.Column, _ lists: ParquetLists<T>, _ sourceLocation: SourceLocation) {
        expectLengths(got, lists, sourceLocation)
        #expect(got.hex == hex(lists.values), "\(got.name) values", sourceLocation: sourceLocation)
    }

    private static func expectLengths<T>(_ got: PyArrowFile.Column, _ lists: ParquetLists<T>, _ sourceLocation: SourceLocation) {
        let lengths = (0..<lists.rowCount).map { lists[row: $0].count }
        #expect(got.lengths == lengths, "\(got.name) row lengths", sourceLocation: sourceLocation)
        #expect(got.element_nullable == false, "\(got.name) elements should be not null", sourceLocation: sourceLocation)
    }
}
