import Yams

/// Reads one YAML mapping of the configuration with typed accessors that know their key path
/// and line.
///
/// Every accessor registers its key as known, whether or not the key is present, so `finish()`
/// can reject the keys nobody asked for and list the ones that exist. Call `finish()` after the
/// last accessor. Scalars are typed by their text and style, not by Yams' resolver: a quoted
/// `"1000"` is a string, and `0660` stays the text `0660`.
struct ConfigReader {
    struct Entry {
        var key: String
        var keyLine: Int?
        var value: Node
    }

    /// Key path of this mapping (`limits.joints.elbow`); empty at the top level.
    let path: String
    let file: String?
    /// Line of the mapping, or of its parent key when the mapping is absent.
    let line: Int?
    /// Whether values that name things on this machine (files, CPUs) are checked against it:
    /// `ConfigLoader.load(path:)` does, so `check-config` catches them; text parsed alone does not,
    /// so a configuration can be checked on another machine than the arm's.
    var checksHost = false
    private(set) var entries: [Entry] = []
    /// Keys asked for, in the order asked (for "expected one of"), and as a set: a mapping whose
    /// keys are data (`limits.joints`) may hold many thousands, and lookups must stay linear.
    private var known: [String] = []
    private var knownSet: Set<String> = []
    /// First entry of each key, for the same reason.
    private var entryIndex: [String: Int] = [:]

    /// - Parameters:
    ///   - node: The mapping; nil or a YAML null reads as an empty mapping (all defaults).
    ///   - path: Key path of the mapping.
    ///   - file: File name for errors.
    ///   - line: Line to report for missing keys when `node` is nil.
    init(_ node: Node?, path: String, file: String?, line: Int? = nil) throws(ConfigError) {
        self.path = path
        self.file = file
        self.line = node?.mark?.line ?? line
        guard let node, !Self.isNull(node) else { return }
        guard case let .mapping(mapping) = node else {
            throw ConfigError(
                .wrongType, keyPath: path, file: file, line: node.mark?.line,
                message: "expected a mapping, found \(Self.describe(node))")
        }
        var firstLine: [String: Int?] = [:]
        for (keyNode, value) in mapping {
            guard case let .scalar(key) = keyNode, !Self.isNull(keyNode) else {
                throw ConfigError(
                    .wrongType, keyPath: path, file: file, line: keyNode.mark?.line,
                    message: "expected a string key, found \(Self.describe(keyNode))")
            }
            let keyLine = key.mark?.line
            if let first = firstLine[key.string] {
                let previous = first.map { " (first on line \($0))" } ?? ""
                throw ConfigError(
                    .duplicateKey, keyPath: Self.join(path, key.string), file: file, line: keyLine,
                    message: "duplicate key\(previous)")
            }
            firstLine[key.string] = keyLine
            entryIndex[key.string] = entries.count
            entries.append(Entry(key: key.string, keyLine: keyLine, value: value))
        }
    }

    // MARK: bookkeeping

    /// The value of `key`, registering it as known; nil when absent or null.
    mutating func node(_ key: String) -> Node? {
        markKnown(key)
        guard let index = entryIndex[key], !Self.isNull(entries[index].value) else { return nil }
        return entries[index].value
    }

    private mutating func markKnown(_ key: String) {
        if knownSet.insert(key).inserted { known.append(key) }
    }

    /// The line of `key` when present, else the line of this mapping.
    func line(of key: String) -> Int? {
        entryIndex[key].flatMap { entries[$0].keyLine } ?? line
    }

    func keyPath(_ key: String) -> String { Self.join(path, key) }

    /// All entries, for mappings whose keys are data (joint names); marks them all known.
    mutating func takeAllEntries() -> [Entry] {
        for entry in entries { markKnown(entry.key) }
        return entries
    }

    /// Rejects the first key (in document order) no accessor asked for.
    func finish() throws(ConfigError) {
        guard let unknown = entries.first(where: { !knownSet.contains($0.key) }) else { return }
        var message = "unknown key"
        if let suggestion = Self.closest(to: unknown.key, in: known) {
            message += " (did you mean \(suggestion)?)"
        }
        message += known.isEmpty ? "; this mapping takes no keys" : "; expected one of \(known.joined(separator: ", "))"
        throw ConfigError(.unknownKey, keyPath: keyPath(unknown.key), file: file, line: unknown.keyLine, message: message)
    }

    func error(_ code: ConfigError.Code, _ key: String, at node: Node?, _ message: String) -> ConfigError {
        ConfigError(code, keyPath: keyPath(key), file: file, line: node?.mark?.line ?? line(of: key), message: message)
    }

    // MARK: sections

    /// The nested mapping at `key`; absent or null reads as empty.
    mutating func section(_ key: String) throws(ConfigError) -> ConfigReader {
        let value = node(key)
        var reader = try ConfigReader(value, path: keyPath(key), file: file, line: line(of: key))
        reader.checksHost = checksHost
        return reader
    }

    /// Whether `key` is present (and not null), registering it as known.
    mutating func contains(_ key: String) -> Bool { node(key) != nil }

    // MARK: scalars

    mutating func int(_ key: String, default value: Int, _ bounds: Bounds<Int>, unit: String = "") throws(ConfigError) -> Int {
        try optionalInt(key, bounds, unit: unit) ?? value
    }

    mutating func optionalInt(_ key: String, _ bounds: Bounds<Int>, unit: String = "") throws(ConfigError) -> Int? {
        guard let node = node(key) else { return nil }
        return try int(node, keyPath: keyPath(key), bounds, unit: unit)
    }

    func int(_ node: Node, keyPath: String, _ bounds: Bounds<Int>, unit: String) throws(ConfigError) -> Int {
        guard let text = Self.plainText(node), Self.isDecimalDigits(Self.unsigned(text)) else {
            throw typeError(node, keyPath: keyPath, expected: "an integer")
        }
        guard let x = Self.parseInt(text), bounds.contains(x) else {
            throw ConfigError(
                .outOfRange, keyPath: keyPath, file: file, line: node.mark?.line,
                message: "\(text) is out of range \(bounds.text(unit: unit))")
        }
        return x
    }

    mutating func uint64(_ key: String, default value: UInt64) throws(ConfigError) -> UInt64 {
        guard let node = node(key) else { return value }
        guard let text = Self.plainText(node), Self.parseInt(text) != nil || Self.isDecimalDigits(text) else {
            throw typeError(node, keyPath: keyPath(key), expected: "an integer")
        }
        var digits = text.filter { $0 != "_" }
        if digits.first == "+" { digits.removeFirst() }
        guard let x = UInt64(digits) else {
            throw error(.outOfRange, key, at: node, "\(text) is out of range 0…\(UInt64.max)")
        }
        return x
    }

    mutating func double(_ key: String, default value: Double, _ bounds: Bounds<Double>, unit: String = "") throws(ConfigError) -> Double {
        try optionalDouble(key, bounds, unit: unit) ?? value
    }

    mutating func optionalDouble(_ key: String, _ bounds: Bounds<Double>, unit: String = "") throws(ConfigError) -> Double? {
        guard let node = node(key) else { return nil }
        return try double(node, keyPath: keyPath(key), bounds, unit: unit)
    }

    func double(_ node: Node, keyPath: String, _ bounds: Bounds<Double>, unit: String) throws(ConfigError) -> Double {
        guard let text = Self.plainText(node), let x = Self.parseDouble(text) else {
            throw typeError(node, keyPath: keyPath, expected: "a number")
        }
        guard x.isFinite else {
            throw ConfigError(
                .outOfRange, keyPath: keyPath, file: file, line: node.mark?.line,
                message: "\(text) is not a finite number (it overflows a double)")
        }
        guard bounds.contains(x) else {
            throw ConfigError(
                .outOfRange, keyPath: keyPath, file: file, line: node.mark?.line,
                message: "\(text) is out of range \(bounds.text(unit: unit))")
        }
        return x
    }

    mutating func bool(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let node = node(key) else { return value }
        switch Self.plainText(node) {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw typeError(node, keyPath: keyPath(key), expected: "a boolean (true or false)")
        }
    }

    mutating func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let node = node(key) else { return nil }
        return try string(node, keyPath: keyPath(key))
    }

    mutating func string(_ key: String, default value: String) throws(ConfigError) -> String {
        try optionalString(key) ?? value
    }

    /// A string that has no default: missing is an error saying why it is needed.
    mutating func requiredString(_ key: String, because reason: String) throws(ConfigError) -> String {
        guard let value = try optionalString(key) else {
            throw error(.missingKey, key, at: nil, "missing; required \(reason)")
        }
        return value
    }

    func string(_ node: Node, keyPath: String) throws(ConfigError) -> String {
        guard case let .scalar(scalar) = node, !scalar.string.isEmpty else {
            throw typeError(node, keyPath: keyPath, expected: "a non-empty string")
        }
        return scalar.string
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, default value: E) throws(ConfigError) -> E
    where E.RawValue == String {
        guard let node = node(key) else { return value }
        let text = try string(node, keyPath: keyPath(key))
        guard let result = E(rawValue: text) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(.invalidValue, key, at: node, "\(text.debugDescription) is not one of \(allowed)")
        }
        return result
    }

    // MARK: lists

    /// The elements of the list at `key`; nil when absent.
    mutating func list(_ key: String) throws(ConfigError) -> [Node]? {
        guard let node = node(key) else { return nil }
        guard case let .sequence(sequence) = node else {
            throw typeError(node, keyPath: keyPath(key), expected: "a list")
        }
        return Array(sequence)
    }

    mutating func optionalDoubleList(_ key: String, _ bounds: Bounds<Double>, unit: String = "") throws(ConfigError) -> [Double]? {
        guard let nodes = try list(key) else { return nil }
        var values: [Double] = []
        for (i, element) in nodes.enumerated() {
            values.append(try double(element, keyPath: "\(keyPath(key))[\(i)]", bounds, unit: unit))
        }
        return values
    }

    mutating func stringList(_ key: String, default value: [String]) throws(ConfigError) -> [String] {
        guard let nodes = try list(key) else { return value }
        var values: [String] = []
        for (i, element) in nodes.enumerated() {
            values.append(try string(element, keyPath: "\(keyPath(key))[\(i)]"))
        }
        return values
    }

    /// A per-joint value: one number for every joint, or a non-empty list in joint order.
    mutating func jointValues(_ key: String, default value: JointValues, _ bounds: Bounds<Double>, unit: String) throws(ConfigError) -> JointValues {
        guard let node = node(key) else { return value }
        if case .sequence = node {
            guard let values = try optionalDoubleList(key, bounds, unit: unit) else { return value }
            guard !values.isEmpty else {
                throw error(.invalidValue, key, at: node, "empty list; write one number for every joint or one per joint")
            }
            return .perJoint(values)
        }
        if Self.plainText(node).flatMap(Self.parseDouble) == nil {
            throw typeError(node, keyPath: keyPath(key), expected: "a number or a list of numbers (one per joint)")
        }
        return .uniform(try double(node, keyPath: keyPath(key), bounds, unit: unit))
    }

    /// `jointValues` without a default: nil when the key is absent.
    mutating func optionalJointValues(_ key: String, _ bounds: Bounds<Double>, unit: String) throws(ConfigError) -> JointValues? {
        guard contains(key) else { return nil }
        return try jointValues(key, default: .uniform(0), bounds, unit: unit)
    }

    // MARK: typing

    func typeError(_ node: Node, keyPath: String, expected: String) -> ConfigError {
        ConfigError(
            .wrongType, keyPath: keyPath, file: file, line: node.mark?.line,
            message: "expected \(expected), found \(Self.describe(node))")
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func isNull(_ node: Node) -> Bool {
        guard case let .scalar(scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The text of an unquoted scalar; numbers and booleans are never quoted.
    static func plainText(_ node: Node) -> String? {
        guard case let .scalar(scalar) = node, scalar.style == .plain || scalar.style == .any else { return nil }
        return scalar.string
    }

    /// Decimal integers with an optional sign and `_` separators (`1_000_000`).
    static func parseInt(_ text: String) -> Int? {
        let digits = text.filter { $0 != "_" }
        guard let first = digits.first, first.isNumber || first == "-" || first == "+",
              digits.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        return Int(digits)
    }

    static func unsigned(_ text: String) -> String {
        text.hasPrefix("-") || text.hasPrefix("+") ? String(text.dropFirst()) : text
    }

    static func isDecimalDigits(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0 == "_" || ($0.isASCII && $0.isNumber) }
    }

    /// Decimal numbers as YAML writes them (`1`, `-0.5`, `2.5e-3`, `1_000.0`); not `.inf` or `.nan`.
    static func parseDouble(_ text: String) -> Double? {
        let digits = text.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy({ "0123456789+-.eE".contains($0) }) else { return nil }
        return Double(digits)
    }

    /// How a wrong value reads in a message: `"fast"`, `12`, `null`, `a list`, `a mapping`.
    static func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            if isNull(node) { return "null" }
            if let text = plainText(node), parseDouble(text) != nil || ["true", "false"].contains(text.lowercased()) {
                return text
            }
            return scalar.string.debugDescription
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// The known key within edit distance 2 of `key`, for "did you mean".
    static func closest(to key: String, in candidates: [String]) -> String? {
        // Edit distance costs |key| · |candidate|; a key this long is no typo of a schema key.
        guard key.count <= 64 else { return nil }
        let scored = candidates.map { ($0, editDistance(Array(key), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < key.count else { return nil }
        return best.0
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0 ... b.count)
        for i in 1 ... max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = a[i - 1] == b[j - 1] ? previous : 1 + min(previous, row[j], row[j - 1])
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

/// An allowed range of a configuration number, with its spelling for error messages.
struct Bounds<T: Comparable & Sendable>: Sendable {
    var lower: T?
    var lowerInclusive = true
    var upper: T?
    var upperInclusive = true

    /// `a…b`.
    static func closed(_ a: T, _ b: T) -> Bounds { Bounds(lower: a, upper: b) }
    /// `≥ a`.
    static func atLeast(_ a: T) -> Bounds { Bounds(lower: a, upper: nil) }
    /// `> a`.
    static func above(_ a: T) -> Bounds { Bounds(lower: a, lowerInclusive: false, upper: nil) }
    /// `a < x ≤ b`.
    static func above(_ a: T, atMost b: T) -> Bounds { Bounds(lower: a, lowerInclusive: false, upper: b) }
    /// Any value (finite, for numbers).
    static var any: Bounds { Bounds(lower: nil, upper: nil) }

    func contains(_ x: T) -> Bool {
        if let lower, lowerInclusive ? x < lower : x <= lower { return false }
        if let upper, upperInclusive ? x > upper : x >= upper { return false }
        return true
    }

    func text(unit: String) -> String {
        let suffix = unit.isEmpty ? "" : " \(unit)"
        switch (lower, upper) {
        case let (a?, b?) where lowerInclusive && upperInclusive: return "\(format(a))…\(format(b))\(suffix)"
        case let (a?, b?): return "\(format(a)) \(lowerInclusive ? "≤" : "<") x \(upperInclusive ? "≤" : "<") \(format(b))\(suffix)"
        case let (a?, nil): return "\(lowerInclusive ? "≥" : ">") \(format(a))\(suffix)"
        case let (nil, b?): return "\(upperInclusive ? "≤" : "<") \(format(b))\(suffix)"
        case (nil, nil): return "(finite)\(suffix)"
        }
    }

    private func format(_ x: T) -> String {
        if let d = x as? Double, d.rounded() == d, abs(d) < 1e15 { return String(Int(d)) }
        return "\(x)"
    }
}
