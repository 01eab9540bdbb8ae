import ControlRuntime
import Foundation
import RobotInterface

/// Writes a frozen flight recorder to the data directory as CSV, one row per tick, so that a
/// fault can be inspected with any spreadsheet or `numpy.loadtxt`.
///
/// File: `<dataDirectory>/flight-<UTC timestamp>-<fault>.csv`; columns `tick, time_s, mode,
/// flags, command_mode, q0…, v0…, effort0…, command0…` (rad, rad/s, N·m; command in the driver's
/// unit for `command_mode` 1 torque, 2 position, 3 velocity, 0 none). `flags` adds the
/// `Transition.Flags` bits: 1 limited, 2 intervention, 4 overrun, 8 held state (invalid or stale sample).
/// - Warning: Not real-time safe: runs on a background thread.
public enum FlightRecorderWriter {
    public static func write(_ ticks: [Transition], jointNames: [String], reason: String, to directory: String, now: Date = Date()) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stamp = ISO8601DateFormatter.string(from: now, timeZone: .gmt, formatOptions: [.withYear, .withMonth, .withDay, .withTime, .withTimeZone])
            .replacingOccurrences(of: ":", with: "")
        let safeReason = reason.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let path = (directory as NSString).appendingPathComponent("flight-\(stamp)-\(String(safeReason)).csv")
        let n = jointNames.count
        var header = ["tick", "time_s", "mode", "flags", "command_mode"]
        for prefix in ["q", "v", "effort", "command"] { header += jointNames.map { "\(prefix)_\($0)" } }
        var text = "# robotd flight recorder: \(reason); \(ticks.count) ticks\n" + header.joined(separator: ",") + "\n"
        for t in ticks {
            var row = ["\(t.tick)", "\(t.time)", "\(t.mode)", "\(t.flags)", "\(commandModeColumn(t.commandMode))"]
            for i in 0 ..< n { row.append("\(t.position[i])") }
            for i in 0 ..< n { row.append("\(t.velocity[i])") }
            for i in 0 ..< n { row.append("\(t.effort[i])") }
            for i in 0 ..< n { row.append("\(t.command[i])") }
            text += row.joined(separator: ",") + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The file's `command_mode` code (see above).
    static func commandModeColumn(_ mode: CommandMode?) -> Int {
        switch mode {
        case nil: 0
        case .torque?: 1
        case .position?: 2
        case .velocity?: 3
        }
    }
}
