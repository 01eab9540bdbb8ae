/// The element type of a list column: lists of REQUIRED values.
public enum ParquetListElementType: Sendable, Hashable {
    case int64, float, double, string
}

/// The column types this writer supports, all REQUIRED (never null).
///
/// | case | Parquet physical / logical | pyarrow reads |
/// |---|---|---|
/// | `int64` | INT64 | `int64 not null` |
/// | `float` | FLOAT | `float not null` |
/// | `double` | DOUBLE | `double not null` |
/// | `boolean` | BOOLEAN | `bool not null` |
/// | `string` | BYTE_ARRAY, UTF8 / STRING | `string not null` |
/// | `list(e)` | 3-level LIST group, REQUIRED `element` leaf (UTF8 for strings) | `list<element: e not null> not null` |
public enum ParquetColumnType: Sendable, Hashable {
    case int64, float, double, boolean, string
    case list(ParquetListElementType)
}

/// A named top-level column.
public struct ParquetColumn: Sendable, Hashable {
    public var name: String
    public var type: ParquetColumnType

    public init(_ name: String, _ type: ParquetColumnType) {
        self.name = name
        self.type = type
    }
}

/// The file's top-level columns, in order.
public struct ParquetSchema: Sendable, Hashable {
    public let columns: [ParquetColumn]

    /// - Throws: `ParquetError.invalidSchema` when there are no columns, or a name is empty or repeated.
    public init(_ columns: [ParquetColumn]) throws(ParquetError) {
        guard !columns.isEmpty else { throw ParquetError(.invalidSchema, "a schema needs at least one column") }
        var seen = Set<String>()
        for (i, column) in columns.enumerated() {
            guard !column.name.isEmpty else { throw ParquetError(.invalidSchema, "column \(i) has an empty name") }
            guard seen.insert(column.name).inserted else {
                throw ParquetError(.invalidSchema, "column name '\(column.name)' appears twice")
            }
        }
        self.columns = columns
    }
}

/// A key-value pair of the file footer (FileMetaData.key_value_metadata), e.g. pandas' `pandas` entry.
public struct ParquetKeyValue: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}
