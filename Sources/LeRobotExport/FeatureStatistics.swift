import ControlProtocol

/// A feature's statistics over frames, element by element, as LeRobot's `stats.json` and the
/// episodes' `stats/<feature>/…` columns hold them.
///
/// mean = Σx / n; std = √(Σ(x − mean)² / n) (population, as `np.std`); quantile p = linear
/// interpolation between order statistics at (n − 1)·p (`np.quantile`'s default). These are
/// exact over the frames given; LeRobot's own global quantiles are count-weighted averages of
/// per-episode histogram quantiles, an approximation of the same numbers.
struct FeatureStatistics: Sendable {
    /// The quantiles LeRobot stores and their keys.
    static let quantiles: [(key: String, p: Double)] = [("q01", 0.01), ("q10", 0.10), ("q50", 0.50), ("q90", 0.90), ("q99", 0.99)]

    var count: Int
    var min: [Double] = [], max: [Double] = [], mean: [Double] = [], std: [Double] = []
    /// (quantiles × width): `quantileValues[k][j]` is quantile k of element j.
    var quantileValues: [[Double]]

    /// - Parameter elements: one array per element (width of them), each with the same n > 0 values.
    init(elements: [[Double]]) {
        count = elements.first?.count ?? 0
        quantileValues = Array(repeating: [], count: Self.quantiles.count)
        for values in elements {
            precondition(values.count == count && count > 0)
            let sorted = values.sorted()
            let n = Double(count)
            let m = values.reduce(0, +) / n
            min.append(sorted[0])
            max.append(sorted[count - 1])
            mean.append(m)
            std.append((values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot())
            for (k, q) in Self.quantiles.enumerated() {
                let h = Double(count - 1) * q.p
                let lo = Int(h)
                let hi = Swift.min(lo + 1, count - 1)
                quantileValues[k].append(sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo]))
            }
        }
    }

    /// How min and max print: in the feature's own type (LeRobot keeps int64 and bool there).
    enum ExtremaType { case float, integer, boolean }

    /// `{min, max, mean, std, count, q01, …, q99}`, every value a list over elements.
    func json(extrema type: ExtremaType) -> JSONValue {
        func extrema(_ values: [Double]) -> JSONValue {
            switch type {
            case .float: .array(values.map { .number($0) })
            case .integer: .array(values.map { .integer(Int64($0)) })
            case .boolean: .array(values.map { .bool($0 != 0) })
            }
        }
        var object: [String: JSONValue] = [
            "min": extrema(min), "max": extrema(max), "mean": JSONValue(mean), "std": JSONValue(std),
            "count": [.integer(Int64(count))],
        ]
        for (k, q) in Self.quantiles.enumerated() { object[q.key] = JSONValue(quantileValues[k]) }
        return .object(object)
    }
}
