import ServoBus

/// Why a calibration could not be read, made, written or applied. The description names the
/// file, the joint and the field where there is one:
/// `data/calibration/so101.json: joint elbow_flex: range_min: 3100 is not below range_max 3000`.
///
/// Equality compares the code, file, joint and field.
public struct CalibrationError: Error, Hashable, CustomStringConvertible, Sendable {
    public enum Code: Hashable, Sendable {
        /// The file cannot be read or written (missing, permissions, disk).
        case io
        /// Not JSON, or not the shape of a calibration file.
        case syntax
        /// LeRobot's per-field-array format from before 2025.
        case legacyFormat
        /// A value out of its range or inconsistent with another.
        case invalidValue
        /// The file does not fit this arm: other joints, ids, protocol or arm id.
        case mismatch
        /// The procedure went wrong: a joint never moved, a pose the offset register cannot hold.
        case procedure
        /// The servos failed (no reply, a write that did not stick).
        case bus
    }

    public let code: Code
    /// The file concerned, if any.
    public let file: String?
    /// The robot joint (or LeRobot motor) concerned, if any.
    public let joint: String?
    /// The field (`range_min`, `homing_offset`, …), if any.
    public let field: String?
    public let message: String

    public init(_ code: Code, file: String? = nil, joint: String? = nil, field: String? = nil, _ message: String) {
        self.code = code
        self.file = file
        self.joint = joint
        self.field = field
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let joint { parts.append("joint \(joint)") }
        if let field { parts.append(field) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.code == b.code && a.file == b.file && a.joint == b.joint && a.field == b.field
    }

    public func hash(into h: inout Hasher) {
        h.combine(code)
        h.combine(file)
        h.combine(joint)
        h.combine(field)
    }

    /// The same error, naming `file`.
    func inFile(_ file: String) -> CalibrationError {
        CalibrationError(code, file: file, joint: joint, field: field, message)
    }

    static func bus(_ e: ServoBusError, joint: String? = nil) -> CalibrationError {
        CalibrationError(.bus, joint: joint, e.message)
    }
}
