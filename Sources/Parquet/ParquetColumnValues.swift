/// Rows of lists stored flat: every row's elements one after the other, plus where each row ends.
///
/// `values[rowEnds[r − 1] ..< rowEnds[r]]` is row r (row 0 starts at 0). Flat storage keeps 10⁵
/// rows of 6 floats one array, not 10⁵.
public struct ParquetLists<Element: Sendable & Hashable>: Sendable, Hashable {
    /// Every row's elements, row after row.
    public private(set) var values: [Element] = []
    /// `rowEnds[r]` = index in `values` one past row r's last element; non-decreasing.
    public private(set) var rowEnds: [Int] = []

    public init() {}

    /// - Parameter rows: one array per row; an empty array is an empty list.
    public init(_ rows: [[Element]]) {
        rowEnds.reserveCapacity(rows.count)
        values.reserveCapacity(rows.reduce(0) { $0 + $1.count })
        for row in rows { append(row) }
    }

    /// Rows of a fixed `width` cut from `flat` (row-major).
    /// - Precondition: `width > 0` and `flat.count` is a multiple of `width`.
    public init(flat: [Element], width: Int) {
        precondition(width > 0 && flat.count % width == 0, "flat.count \(flat.count) is not a multiple of width \(width)")
        values = flat
        rowEnds = Array(stride(from: width, through: flat.count, by: width))
    }

    public var rowCount: Int { rowEnds.count }

    public mutating func append(_ row: some Sequence<Element>) {
        values.append(contentsOf: row)
        rowEnds.append(values.count)
    }

    /// Row r's elements.
    public subscript(row r: Int) -> ArraySlice<Element> {
        values[(r == 0 ? 0 : rowEnds[r - 1])..<rowEnds[r]]
    }
}

/// One column's values, in the case matching its `ParquetColumnType`.
public enum ParquetColumnValues: Sendable, Hashable {
    case int64([Int64])
    case float([Float])
    case double([Double])
    case boolean([Bool])
    case string([String])
    case int64Lists(ParquetLists<Int64>)
    case floatLists(ParquetLists<Float>)
    case doubleLists(ParquetLists<Double>)
    case stringLists(ParquetLists<String>)

    public var rowCount: Int {
        switch self {
        case .int64(let v): v.count
        case .float(let v): v.count
        case .double(let v): v.count
        case .boolean(let v): v.count
        case .string(let v): v.count
        case .int64Lists(let v): v.rowCount
        case .floatLists(let v): v.rowCount
        case .doubleLists(let v): v.rowCount
        case .stringLists(let v): v.rowCount
        }
    }

    /// The column type these values fit.
    public var type: ParquetColumnType {
        switch self {
        case .int64: .int64
        case .float: .float
        case .double: .double
        case .boolean: .boolean
        case .string: .string
        case .int64Lists: .list(.int64)
        case .floatLists: .list(.float)
        case .doubleLists: .list(.double)
        case .stringLists: .list(.string)
        }
    }
}
