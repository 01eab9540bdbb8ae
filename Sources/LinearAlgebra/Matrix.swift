/// A dense column-major matrix of `Double` that owns its contiguous storage: element (r, c) is
/// `storage[c * rows + r]`, the layout BLAS and LAPACK expect (leading dimension = `rows`).
///
/// A column vector is a `Matrix` with one column. Keep hot-path matrices uniquely owned (in a
/// workspace): writes then happen in place; a shared copy would be copied on first write.
public struct Matrix: Sendable, Equatable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int
    /// (rows × columns), column-major.
    public var storage: [Double]

    /// A zero matrix.
    public init(rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be ≥ 0")
        self.rows = rows
        self.columns = columns
        storage = Array(repeating: 0, count: rows * columns)
    }

    /// From nested rows, as written on paper: `Matrix([[1, 2], [3, 4]])`.
    public init(_ rowMajor: [[Double]]) {
        let r = rowMajor.count, c = rowMajor.first?.count ?? 0
        precondition(rowMajor.allSatisfy { $0.count == c }, "all rows must have the same length")
        self.init(rows: r, columns: c)
        for i in 0 ..< r { for j in 0 ..< c { storage[j * r + i] = rowMajor[i][j] } }
    }

    /// From column-major storage.
    public init(rows: Int, columns: Int, columnMajor: [Double]) {
        precondition(columnMajor.count == rows * columns, "storage must hold rows × columns values")
        self.rows = rows
        self.columns = columns
        storage = columnMajor
    }

    /// A column vector.
    public init(vector: [Double]) {
        self.init(rows: vector.count, columns: 1, columnMajor: vector)
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0 ..< n { m.storage[i * n + i] = 1 }
        return m
    }

    @inlinable
    public subscript(row: Int, column: Int) -> Double {
        get {
            assert(row >= 0 && row < rows && column >= 0 && column < columns, "matrix index out of range")
            return storage[column * rows + row]
        }
        set {
            assert(row >= 0 && row < rows && column >= 0 && column < columns, "matrix index out of range")
            storage[column * rows + row] = newValue
        }
    }

    /// Leading dimension for BLAS/LAPACK.
    public var leadingDimension: Int { max(1, rows) }

    public var isSquare: Bool { rows == columns }

    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for c in 0 ..< columns { for r in 0 ..< rows { t.storage[r * columns + c] = storage[c * rows + r] } }
        return t
    }

    public func column(_ c: Int) -> [Double] { Array(storage[c * rows ..< (c + 1) * rows]) }

    /// Nested rows, for printing and JSON.
    public var rowArrays: [[Double]] { (0 ..< rows).map { r in (0 ..< columns).map { self[r, $0] } } }

    /// Zero-fills without reallocating.
    /// - Note: Real-time safe when uniquely owned: no allocation, no locks.
    public mutating func reset() {
        for k in storage.indices { storage[k] = 0 }
    }

    /// Copies `other`'s values in place; shapes must match.
    /// - Note: Real-time safe when uniquely owned: no allocation, no locks.
    public mutating func copy(from other: Matrix) {
        precondition(rows == other.rows && columns == other.columns, "shape mismatch in copy")
        for k in storage.indices { storage[k] = other.storage[k] }
    }

    /// Largest absolute element.
    public var maxAbs: Double { storage.reduce(0) { max($0, abs($1)) } }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Double>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    public var description: String { "\(rows)×\(columns) \(rowArrays)" }
}
