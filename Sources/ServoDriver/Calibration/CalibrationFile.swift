import Digest
import Foundation
import Glibc
import ServoProtocol

/// The arm a calibration must fit: its id, bus protocol, joints in robot order and servo ids.
public struct CalibrationTarget: Sendable, Hashable {
    /// The arm id (`driver.*.arm_id`, default the robot name): the file's name and its `arm`.
    public var arm: String
    /// `feetech` or `dynamixel`.
    public var busProtocol: String
    /// The robot description's joints, in order.
    public var joints: [String]
    /// The servo ids in joint order (the config's `ids`); nil = not checked.
    public var ids: [Int]?

    public init(arm: String, busProtocol: String, joints: [String], ids: [Int]? = nil) {
        self.arm = arm; self.busProtocol = busProtocol; self.joints = joints; self.ids = ids
    }
}

/// A calibration read from disk, with the hash `status` shows and episodes carry.
public struct LoadedCalibration: Sendable, Hashable {
    public var calibration: ArmCalibration
    public var path: String
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    public var sha256: String
}

/// robotd's calibration file: JSON, one per arm at `<data_directory>/calibration/<arm>.json`.
///
/// ```json
/// {
///   "format": "robotd-calibration",
///   "format_version": 1,
///   "arm": "so101",
///   "protocol": "feetech",
///   "source": "robotd calibrate",
///   "joints": [
///     {"joint": "shoulder_pan", "id": 1, "drive_mode": 0, "homing_offset": 1, "range_min": 812, "range_max": 3251, "zero": 2047},
///     …
///   ]
/// }
/// ```
///
/// Joints are in the robot description's order; counts are present-position units (homing
/// offset applied); `zero` is the count at q = 0 (`ArmCalibration`). The writer is
/// deterministic (same calibration, same bytes, same hash); the reader checks every field and
/// names the file, joint and field of what is wrong.
public enum CalibrationFile {
    public static let format = "robotd-calibration"
    public static let formatVersion = 1
    /// Largest file read (bytes): a calibration of a few dozen joints is a few kB.
    public static let maximumBytes = 1 << 20

    /// `<dataDirectory>/calibration/<arm>.json`.
    public static func path(dataDirectory: String, arm: String) -> String {
        (dataDirectory.hasSuffix("/") ? dataDirectory : dataDirectory + "/") + "calibration/\(arm).json"
    }

    /// An arm id names a file: letters, digits, `.`, `_`, `-`, 1…64 characters, not starting with `.`.
    public static func checkArmID(_ arm: String) throws(CalibrationError) {
        let ok = !arm.isEmpty && arm.utf8.count <= 64 && !arm.hasPrefix(".")
            && arm.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
        guard ok else {
            throw CalibrationError(.invalidValue, field: "arm_id", "\"\(arm)\" cannot name a file: use 1…64 letters, digits, '.', '_' or '-', not starting with '.'")
        }
    }

    // MARK: writing

    /// The file's bytes for `calibration`: deterministic, one joint per line.
    public static func encode(_ calibration: ArmCalibration, source: String? = nil) -> [UInt8] {
        var s = "{\n"
        s += "  \"format\": \(quote(format)),\n"
        s += "  \"format_version\": \(formatVersion),\n"
        s += "  \"arm\": \(quote(calibration.arm)),\n"
        s += "  \"protocol\": \(quote(calibration.busProtocol)),\n"
        if let source { s += "  \"source\": \(quote(source)),\n" }
        s += "  \"joints\": [\n"
        for (i, j) in calibration.joints.enumerated() {
            let zero = j.zero == j.zero.rounded() && abs(j.zero) < 1e15 ? String(Int(j.zero)) : "\(j.zero)"
            s += "    {\"joint\": \(quote(j.joint)), \"id\": \(j.id), \"drive_mode\": \(j.driveMode), \"homing_offset\": \(j.homingOffset), "
            s += "\"range_min\": \(j.rangeMin), \"range_max\": \(j.rangeMax), \"zero\": \(zero)}"
            s += i + 1 < calibration.joints.count ? ",\n" : "\n"
        }
        s += "  ]\n}\n"
        return Array(s.utf8)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Writes `calibration` to `path` atomically: a temporary file in the same directory,
    /// fsync, rename over `path`, fsync of the directory. Creates the directory if needed.
    /// - Returns: the SHA-256 (hex) of the bytes written.
    /// - Throws: `.io` naming the path and the system's reason.
    @discardableResult
    public static func write(_ calibration: ArmCalibration, to path: String, source: String? = nil) throws(CalibrationError) -> String {
        let bytes = encode(calibration, source: source)
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        } catch {
            throw CalibrationError(.io, file: path, "cannot create the directory \(directory): \(error.localizedDescription)")
        }
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CalibrationError(.io, file: path, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { b in b.baseAddress.map { Glibc.write(fd, $0 + written, b.count - written) } ?? 0 }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw CalibrationError(.io, file: path, "cannot write \(temporary): \(reason)")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw CalibrationError(.io, file: path, "fsync of \(temporary) failed: \(reason)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CalibrationError(.io, file: path, "cannot rename \(temporary) to \(path): \(reason)")
        }
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
        return SHA256.hexHash(bytes)
    }

    // MARK: reading

    /// Reads and checks the calibration at `path` against `target`.
    /// - Throws: `CalibrationError` naming the file, the joint and the field.
    public static func load(path: String, target: CalibrationTarget) throws(CalibrationError) -> LoadedCalibration {
        let bytes = try readBytes(path)
        let calibration = try decode(bytes, file: path, target: target)
        return LoadedCalibration(calibration: calibration, path: path, sha256: SHA256.hexHash(bytes))
    }

    static func readBytes(_ path: String) throws(CalibrationError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = access(path, F_OK) == 0 ? "cannot be read (permissions?)" : "does not exist"
            throw CalibrationError(.io, file: path, reason)
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maximumBytes + 1) ?? Data() } catch {
            throw CalibrationError(.io, file: path, "cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maximumBytes else { throw CalibrationError(.io, file: path, "is larger than \(maximumBytes) bytes: not a calibration file") }
        return Array(data)
    }

    /// Parses a calibration file's bytes and checks them against `target`.
    public static func decode(_ bytes: [UInt8], file: String, target: CalibrationTarget) throws(CalibrationError) -> ArmCalibration {
        guard case let .object(top) = try JSONItem.parse(bytes, file: file) else {
            throw CalibrationError(.syntax, file: file, "expected a JSON object with \"format\": \"\(format)\"")
        }
        let fields = JSONFields(object: top, file: file, joint: nil)
        if top["format"] == nil, top.values.contains(where: { if case .object = $0 { true } else { false } }) {
            throw CalibrationError(.syntax, file: file, "looks like a LeRobot calibration file (one object per motor): import it with `robotd calibrate --import-lerobot \(file)`")
        }
        guard try fields.string("format") == format else {
            throw CalibrationError(.syntax, file: file, field: "format", "expected \"\(format)\"")
        }
        let version = try fields.int("format_version")
        guard version == formatVersion else {
            throw CalibrationError(.invalidValue, file: file, field: "format_version", "\(version) is not supported (this robotd reads version \(formatVersion))")
        }
        try fields.rejectUnknown(["format", "format_version", "arm", "protocol", "source", "joints"])
        if top["source"] != nil { _ = try fields.string("source") }
        let arm = try fields.string("arm")
        let busProtocol = try fields.string("protocol")
        guard case let .array(items) = try fields.require("joints") else {
            throw CalibrationError(.syntax, file: file, field: "joints", "expected a list with one object per joint")
        }
        var joints: [JointCalibration] = []
        for (i, item) in items.enumerated() {
            guard case let .object(o) = item else {
                throw CalibrationError(.syntax, file: file, field: "joints[\(i)]", "expected an object, found \(item.kind)")
            }
            var name: String? = nil
            if case let .string(s)? = o["joint"] { name = s }
            let f = JSONFields(object: o, file: file, joint: name ?? "joints[\(i)]")
            try f.rejectUnknown(["joint", "id", "drive_mode", "homing_offset", "range_min", "range_max", "zero"])
            let joint = try f.string("joint")
            let id = try f.int("id")
            guard (0...253).contains(id) else { throw CalibrationError(.invalidValue, file: file, joint: joint, field: "id", "\(id) is not a servo id (0…253)") }
            joints.append(JointCalibration(
                joint: joint, id: UInt8(id), driveMode: try f.int("drive_mode"), homingOffset: try f.int("homing_offset"),
                rangeMin: try f.int("range_min"), rangeMax: try f.int("range_max"), zero: try f.double("zero")))
        }
        let calibration = ArmCalibration(arm: arm, busProtocol: busProtocol, joints: joints)
        do throws(CalibrationError) { try calibration.validate(against: target) } catch { throw error.inFile(file) }
        return calibration
    }
}

extension ArmCalibration {
    /// Smallest calibrated travel (counts, about 5.6°): a narrower range means the joint was not
    /// moved through its travel during calibration.
    public static let minimumSpan = 64
    /// Present-position counts of the servos robotd drives (one turn).
    public static let countRange = 0...4095

    /// The homing offsets a servo's register holds: Feetech ±2047 (sign bit 11), Dynamixel
    /// ±1 044 479 pulses.
    public static func homingOffsetRange(busProtocol: String) -> ClosedRange<Int> {
        busProtocol == "dynamixel" ? -1_044_479...1_044_479 : -2047...2047
    }

    /// Checks every joint: the robot's joints in order, ids 0…253 and unique (and the config's
    /// where given), drive mode 0 or 1, range_min < range_max within 0…4095 and at least
    /// `minimumSpan` apart, the homing offset within its register, zero a finite count.
    /// - Throws: `CalibrationError` naming the joint and the field (no file: callers add it).
    public func validate(against target: CalibrationTarget) throws(CalibrationError) {
        guard ["feetech", "dynamixel"].contains(busProtocol) else {
            throw CalibrationError(.invalidValue, field: "protocol", "\"\(busProtocol)\" is not a servo protocol (feetech or dynamixel)")
        }
        guard busProtocol == target.busProtocol else {
            throw CalibrationError(.mismatch, field: "protocol", "the file is for a \(busProtocol) bus but driver.kind is \(target.busProtocol)")
        }
        guard arm == target.arm else {
            throw CalibrationError(.mismatch, field: "arm", "the file calibrates arm \"\(arm)\", not \"\(target.arm)\"")
        }
        guard joints.map(\.joint) == target.joints else {
            let first = zip(joints.map(\.joint), target.joints).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            let detail = first.map { "joint \($0) is \(joints[$0].joint) where the robot has \(target.joints[$0])" }
                ?? "the file has \(joints.count) joints, the robot \(target.joints.count)"
            throw CalibrationError(.mismatch, field: "joints", "must be the robot's joints in order (\(target.joints.joined(separator: ", "))): \(detail)")
        }
        var seen: [UInt8: String] = [:]
        let offsets = Self.homingOffsetRange(busProtocol: busProtocol)
        for (i, j) in joints.enumerated() {
            func fail(_ field: String, _ message: String, _ code: CalibrationError.Code = .invalidValue) -> CalibrationError {
                CalibrationError(code, joint: j.joint, field: field, message)
            }
            if let other = seen[j.id] { throw fail("id", "servo id \(j.id) is also joint \(other)'s") }
            seen[j.id] = j.joint
            if let ids = target.ids, i < ids.count, ids[i] != Int(j.id) {
                throw fail("id", "servo id \(j.id) in the file, \(ids[i]) in the configuration's ids", .mismatch)
            }
            guard j.driveMode == 0 || j.driveMode == 1 else { throw fail("drive_mode", "\(j.driveMode) is not 0 (normal) or 1 (reversed)") }
            guard offsets.contains(j.homingOffset) else {
                throw fail("homing_offset", "\(j.homingOffset) does not fit the \(busProtocol) Homing_Offset register (\(offsets.lowerBound)…\(offsets.upperBound))")
            }
            guard Self.countRange.contains(j.rangeMin) else { throw fail("range_min", "\(j.rangeMin) is outside the servo's counts 0…4095") }
            guard Self.countRange.contains(j.rangeMax) else { throw fail("range_max", "\(j.rangeMax) is outside the servo's counts 0…4095") }
            guard j.rangeMin < j.rangeMax else { throw fail("range_min", "\(j.rangeMin) is not below range_max \(j.rangeMax)") }
            guard j.rangeMax - j.rangeMin >= Self.minimumSpan else {
                throw fail("range_max", "the range \(j.rangeMin)…\(j.rangeMax) spans \(j.rangeMax - j.rangeMin) counts, fewer than \(Self.minimumSpan): the joint was not moved through its travel")
            }
            guard j.zero.isFinite, j.zero >= 0, j.zero <= 4095 else { throw fail("zero", "\(j.zero) is not a count in 0…4095") }
        }
    }
}
