/// Why a Parquet file could not be built: the message names the column or key at fault.
public struct ParquetError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidSchema, columnMismatch, rowCountMismatch, invalidMetadata, tooLarge
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A column name is empty or repeated, or the schema has no columns.
        public static let invalidSchema = Code(.invalidSchema)
        /// The values given do not match the schema: wrong number of columns or wrong type.
        public static let columnMismatch = Code(.columnMismatch)
        /// Columns of different lengths.
        public static let rowCountMismatch = Code(.rowCountMismatch)
        /// An empty or repeated key-value metadata key.
        public static let invalidMetadata = Code(.invalidMetadata)
        /// A value or page beyond Parquet's 32-bit sizes.
        public static let tooLarge = Code(.tooLarge)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "parquet: \(message)" }

    /// Equality compares codes only, so tests and callers match on the kind of failure.
    public static func == (a: ParquetError, b: ParquetError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
