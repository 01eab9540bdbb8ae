import Foundation

/// JSON as the control socket's clients see it: Foundation's `JSONSerialization` values
/// (`[String: Any]`, `NSNumber`, `NSNull`), and text with sorted keys and unescaped slashes.
public enum JSONText {
    /// Indented text with sorted keys.
    public static func pretty(_ value: Any) -> String {
        render(value, [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    }

    /// One line with sorted keys.
    public static func compact(_ value: Any) -> String {
        render(value, [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    }

    /// Whether `value` is a JSON boolean: `JSONSerialization` bridges `true` and `1` to
    /// `NSNumber` alike, and only the class tells them apart.
    public static func isBool(_ value: Any?) -> Bool {
        guard let value else { return false }
        return type(of: value as AnyObject) == booleanClass
    }

    private static let booleanClass: AnyClass = type(of: NSNumber(value: true) as AnyObject)

    private static func render(_ value: Any, _ options: JSONSerialization.WritingOptions) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else {
            return String(describing: value)
        }
        return String(decoding: data, as: UTF8.self)
    }
}
