/// A daemon configuration that cannot be used: unreadable, not YAML, or not the schema.
///
/// Every error names the key path (`limits.joints.elbow.velocity`, `control.hold.kp[2]`) and,
/// where the YAML has one, the file and line, so that `description` reads like a compiler
/// diagnostic: `configs/sim.yaml:12: loop.rate_hz: 0 is out of range 1…10000 Hz`.
///
/// Equality and hashing compare codes only, so tests and callers can match on the kind of
/// failure; compare `keyPath` and `line` explicitly where they matter.
public struct ConfigError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public struct Code: Hashable, CustomStringConvertible, Sendable {
        fileprivate enum Kind: Hashable, Sendable {
            case unreadable
            case syntax
            case unknownKey
            case duplicateKey
            case missingKey
            case wrongType
            case outOfRange
            case invalidValue
            case tooLarge
            case tooDeep
        }

        fileprivate let kind: Kind

        /// The file cannot be read (missing, permissions, not UTF-8).
        public static let unreadable = Code(kind: .unreadable)
        /// The text is not well-formed YAML.
        public static let syntax = Code(kind: .syntax)
        /// A key the schema does not define, usually a typo.
        public static let unknownKey = Code(kind: .unknownKey)
        /// A key that appears twice in one mapping.
        public static let duplicateKey = Code(kind: .duplicateKey)
        /// A key that has no default and must be given.
        public static let missingKey = Code(kind: .missingKey)
        /// A value of the wrong YAML type (a string where a number belongs, a list for a mapping).
        public static let wrongType = Code(kind: .wrongType)
        /// A number outside its allowed range.
        public static let outOfRange = Code(kind: .outOfRange)
        /// A value of the right type that is not allowed: an unknown enumeration value, a list of
        /// the wrong length, an inconsistent pair.
        public static let invalidValue = Code(kind: .invalidValue)
        /// A file larger than robotd reads (the configuration itself, or the URDF it names).
        public static let tooLarge = Code(kind: .tooLarge)
        /// Lists and mappings nested deeper than the loader accepts.
        public static let tooDeep = Code(kind: .tooDeep)

        public var description: String {
            switch kind {
            case .unreadable: "unreadable"
            case .syntax: "syntax"
            case .unknownKey: "unknownKey"
            case .duplicateKey: "duplicateKey"
            case .missingKey: "missingKey"
            case .wrongType: "wrongType"
            case .outOfRange: "outOfRange"
            case .invalidValue: "invalidValue"
            case .tooLarge: "tooLarge"
            case .tooDeep: "tooDeep"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// Dotted path of the offending key, with `[i]` for list elements; empty for whole-file
    /// failures (unreadable, syntax).
    public var keyPath: String
    /// The configuration file as given to the loader, or nil for text parsed from a string.
    public var file: String?
    /// 1-based line of the offending key or value, when known.
    public var line: Int?
    /// What is wrong, without the location prefix.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - keyPath: Dotted key path, or empty for whole-file failures.
    ///   - file: The configuration file, if any.
    ///   - line: 1-based line, if known.
    ///   - message: What is wrong, without the location prefix.
    public init(_ code: Code, keyPath: String, file: String?, line: Int?, message: String) {
        self.code = code
        self.keyPath = Self.clipped(keyPath, limit: 300)
        self.file = file
        self.line = line
        self.message = Self.clipped(message, limit: 1_000)
    }

    /// Messages and key paths quote keys from the file, which can be megabytes long; a
    /// diagnostic is for a person, so keep it to a screenful.
    static func clipped(_ text: String, limit: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > limit else { return text }
        return String(decoding: utf8.prefix(limit), as: UTF8.self) + "… (\(utf8.count - limit) more bytes)"
    }

    /// `file:line: key.path: message`, dropping the parts that are unknown.
    public var description: String {
        var out = ""
        switch (file, line) {
        case let (file?, line?): out = "\(file):\(line): "
        case let (file?, nil): out = "\(file): "
        case let (nil, line?): out = "line \(line): "
        case (nil, nil): break
        }
        if !keyPath.isEmpty { out += "\(keyPath): " }
        return out + message
    }

    public static func == (lhs: ConfigError, rhs: ConfigError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
