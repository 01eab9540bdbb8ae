import Foundation

/// A parsed JSON value, typed exactly (an integer is not a float, `true` is not 1), so the
/// calibration readers can say which field has the wrong kind of value.
enum JSONItem: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONItem])
    case object([String: JSONItem])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONItem].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONItem].self))
        }
    }

    /// Parses `bytes` (UTF-8 JSON text).
    /// - Throws: `.syntax` with the parser's reason.
    static func parse(_ bytes: [UInt8], file: String) throws(CalibrationError) -> JSONItem {
        do {
            return try JSONDecoder().decode(JSONItem.self, from: Data(bytes))
        } catch let DecodingError.dataCorrupted(context) {
            let reason = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
            throw CalibrationError(.syntax, file: file, "not valid JSON: \(reason)")
        } catch {
            throw CalibrationError(.syntax, file: file, "not valid JSON: \(error)")
        }
    }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// Reads typed fields out of one JSON object, naming the file, joint and field in its errors.
struct JSONFields {
    let object: [String: JSONItem]
    let file: String
    let joint: String?

    func require(_ key: String) throws(CalibrationError) -> JSONItem {
        guard let v = object[key] else { throw CalibrationError(.syntax, file: file, joint: joint, field: key, "missing") }
        return v
    }

    func int(_ key: String) throws(CalibrationError) -> Int {
        let v = try require(key)
        switch v {
        case let .int(i): return i
        case let .double(d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw CalibrationError(.syntax, file: file, joint: joint, field: key, "expected an integer, found \(v.kind)")
        }
    }

    func double(_ key: String) throws(CalibrationError) -> Double {
        let v = try require(key)
        switch v {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: throw CalibrationError(.syntax, file: file, joint: joint, field: key, "expected a number, found \(v.kind)")
        }
    }

    func string(_ key: String) throws(CalibrationError) -> String {
        let v = try require(key)
        guard case let .string(s) = v else { throw CalibrationError(.syntax, file: file, joint: joint, field: key, "expected a string, found \(v.kind)") }
        return s
    }

    /// Keys other than `known` are errors (a misspelt key must not be silently ignored).
    func rejectUnknown(_ known: Set<String>) throws(CalibrationError) {
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw CalibrationError(.syntax, file: file, joint: joint, field: extra, "unknown key (expected \(known.sorted().joined(separator: ", ")))")
        }
    }
}
