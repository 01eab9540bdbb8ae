import ControlProtocol
import ControlSocket
import Foundation

/// Text rendering of robotd's results: fixed decimals, aligned columns, `-` for missing values.
enum Format {
    // MARK: values

    /// Whether a value is `true`/`false`.
    static func isBool(_ value: JSONValue?) -> Bool {
        value?.boolValue != nil
    }

    /// A JSON number as Double (not a boolean).
    static func double(_ value: JSONValue?) -> Double? {
        value?.doubleValue
    }

    static func int(_ value: JSONValue?) -> Int? {
        guard let x = double(value), x.isFinite, x.rounded() == x, abs(x) < 9e15 else { return nil }
        return Int(x)
    }

    static func string(_ value: JSONValue?) -> String? {
        value?.stringValue
    }

    /// The member `key` when it is an object, else nil.
    static func object(_ value: JSONValue?) -> JSONValue? {
        value?.objectValue != nil ? value : nil
    }

    static func doubles(_ value: JSONValue?) -> [Double?] {
        value?.arrayValue?.map { double($0) } ?? []
    }

    /// `x` with `decimals` fixed decimals, or `-` when missing.
    static func fixed(_ x: Double?, _ decimals: Int) -> String {
        guard let x else { return "-" }
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        let text = String(format: "%.\(decimals)f", x)
        // Avoid "-0.0000" for values that round to zero.
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(text.dropFirst()) }
        return text
    }

    /// Seconds for messages: no trailing zeros ("5", "0.5", "2.25").
    static func seconds(_ x: Double) -> String {
        ControlClient.seconds(x)
    }

    static func integer(_ value: JSONValue?) -> String {
        int(value).map(String.init) ?? (double(value).map { fixed($0, 3) } ?? "-")
    }

    static func bool(_ value: JSONValue?) -> String {
        guard let b = value?.boolValue else { return "-" }
        return b ? "yes" : "no"
    }

    static func text(_ value: JSONValue?) -> String {
        guard let value, value != .null else { return "-" }
        if let s = value.stringValue { return s }
        if let i = int(value) { return String(i) }
        if let d = double(value) { return fixed(d, 3) }
        return value.serialized
    }

    static func duration(_ seconds: Double?) -> String {
        // Int(_:) traps beyond Int.max: a daemon's figure is outside input too.
        guard let s = seconds, s.isFinite, s >= 0, s < 1e15 else { return seconds.map { fixed($0, 1) + " s" } ?? "-" }
        if s < 60 { return fixed(s, 1) + " s" }
        let total = Int(s)
        let (d, h, m, sec) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
        var parts: [String] = []
        if d > 0 { parts.append("\(d)d") }
        if d > 0 || h > 0 { parts.append("\(h)h") }
        parts.append("\(m)m")
        parts.append("\(sec)s")
        return parts.joined(separator: " ") + " (" + fixed(s, 1) + " s)"
    }

    // MARK: layout

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }

    /// Columns separated by two spaces; `right[i]` right-aligns column i (numbers).
    static func table(_ header: [String], _ rows: [[String]], right: [Bool]) -> [String] {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in all {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            var cells: [String] = []
            for (i, cell) in row.enumerated() {
                let alignRight = i < right.count && right[i]
                let last = i == row.count - 1
                cells.append(last && !alignRight ? cell : pad(cell, widths[i], right: alignRight))
            }
            return cells.joined(separator: "  ")
        }
    }

    /// "key   value" lines with the values aligned.
    static func keyValues(_ pairs: [(String, String)]) -> [String] {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { pad($0.0, width) + "  " + $0.1 }
    }

    // MARK: results

    static func status(_ result: JSONValue) -> String {
        let r = result
        var mode = text(r["mode"])
        if let fault = r["fault"]?.stringValue { mode += " (fault: \(fault))" }
        var lines = keyValues([
            ("mode", mode),
            ("rate", int(r["rate_hz"]).map { "\($0) Hz" } ?? "-"),
            ("ticks", integer(r["tick_count"])),
            ("overruns", integer(r["overruns"])),
            ("uptime", duration(double(r["uptime_s"]))),
        ])

        lines.append("")
        let joints = object(r["joints"]) ?? [:]
        lines += jointTable(names: joints["names"]?.arrayValue?.map { text($0) } ?? [],
                            q: doubles(joints["q"]), v: doubles(joints["v"]),
                            effort: doubles(joints["effort"]), command: doubles(joints["command"]))

        lines.append("")
        let ee = object(r["end_effector"]) ?? [:]
        let frame = ee["frame"]?.stringValue.map { " (\($0))" } ?? ""
        lines.append("end effector\(frame) position [m]  \(xyz(doubles(ee["position"])))")
        if let policy = r["policy"]?.stringValue { lines.append("policy  \(policy)") }

        if let mpc = object(r["mpc"]) {
            lines.append("")
            lines += planner(mpc, endEffector: doubles(ee["position"]))
        }
        if let f = object(r["last_fallback"]) {
            lines.append("")
            lines.append("last fallback to hold: from \(text(f["from"])) at t \(fixed(double(f["loop_time_s"]), 3)) s (\(integer(f["count"])) in all): \(text(f["reason"]))")
        }

        lines.append("")
        let faults = r["faults"]?.arrayValue ?? []
        if faults.isEmpty {
            lines.append("recent faults: none")
        } else {
            lines.append("recent faults (oldest first):")
            let rows = faults.map { item -> [String] in
                let f = item
                return [integer(f["tick"]), fixed(double(f["loop_time_s"]), 3), text(f["reason"]), text(f["flight_recorder"])]
            }
            lines += table(["tick", "t [s]", "reason", "flight recorder"], rows, right: [true, true, false, false])
                .map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// The MPC planner's figures: target and distance to it, the newest plan, solve times.
    static func planner(_ mpc: JSONValue, endEffector: [Double?]) -> [String] {
        var target = "none"
        var error = "-"
        if let t = object(mpc["target"]) {
            if let p = t["position"], p.arrayValue != nil {
                let xyzTarget = doubles(p)
                target = "position " + self.xyz(xyzTarget)
                if xyzTarget.count == 3, endEffector.count == 3 {
                    var sum = 0.0
                    for i in 0 ..< 3 {
                        guard let a = xyzTarget[i], let b = endEffector[i] else { sum = .nan; break }
                        sum += (a - b) * (a - b)
                    }
                    error = fixed(sum.squareRoot() * 1000, 2) + " mm"
                }
            } else if let q = t["q"], q.arrayValue != nil {
                target = "joints " + doubles(q).map { fixed($0, 4) }.joined(separator: " ")
            } else if let path = t["path"]?.arrayValue {
                target = "path of \(path.count) waypoints, \(fixed(double(t["period"]), 2)) s per lap"
            }
        }
        return ["mpc planner:"] + keyValues([
            ("target", target),
            ("distance to target", error),
            ("newest plan", "\(text(mpc["status"])), \(fixed(double(mpc["plan_age_ms"]), 1)) ms old, \(integer(mpc["iterations"])) iterations"),
            ("solves", "\(integer(mpc["solves"])), last \(fixed(double(mpc["solve_ms"]), 2)) ms, max \(fixed(double(mpc["max_solve_ms"]), 2)) ms at \(integer(mpc["rate_hz"])) Hz"),
            ("model", "version \(integer(mpc["model_version"])), disagreement \(fixed(double(mpc["disagreement"]), 4)), \(integer(mpc["uncertain_plans"])) plans withdrawn"),
        ]).map { "  " + $0 }
    }

    static func jointTable(names: [String], q: [Double?], v: [Double?], effort: [Double?], command: [Double?]) -> [String] {
        let count = max(names.count, q.count, v.count, effort.count, command.count)
        func at(_ a: [Double?], _ i: Int) -> Double? { i < a.count ? a[i] : nil }
        let rows = (0..<count).map { i -> [String] in
            [i < names.count ? names[i] : "joint \(i + 1)",
             fixed(at(q, i), 4), fixed(at(v, i), 4), fixed(at(effort, i), 3), fixed(at(command, i), 3)]
        }
        return table(["joint", "q [rad]", "v [rad/s]", "effort [N·m]", "command"], rows,
                     right: [false, true, true, true, true])
    }

    static func xyz(_ p: [Double?]) -> String {
        guard p.count == 3 else { return p.isEmpty ? "-" : p.map { fixed($0, 4) }.joined(separator: " ") }
        return "x \(fixed(p[0], 4))  y \(fixed(p[1], 4))  z \(fixed(p[2], 4))"
    }

    static func timing(_ result: JSONValue) -> String {
        let r = result
        let keys = ["p50", "p90", "p99", "p99_9", "max", "mean"]
        let header = ["[µs]", "p50", "p90", "p99", "p99.9", "max", "mean"]
        let rows = [("wake latency", "wake_latency_us"), ("compute", "compute_us"), ("compute (CPU)", "compute_cpu_us")]
            .filter { r[$0.1] != nil }.map { label, key -> [String] in
            let stats = r[key] ?? [:]
            return [label] + keys.map { fixed(double(stats[$0]), 1) }
        }
        var lines = table(header, rows, right: [false] + Array(repeating: true, count: keys.count))
        lines.append("")
        var scheduler = text(r["scheduler"])
        if let priority = int(r["rt_priority"]) { scheduler += ", priority \(priority)" }
        lines += keyValues([
            ("ticks", integer(r["ticks"])),
            ("overruns", integer(r["overruns"]) + "  (worst streak \(integer(r["worst_overrun_streak"])))"),
            ("scheduler", scheduler),
            ("memory locked", bool(r["memory_locked"])),
            ("cpu", r["cpu"] == .null || r["cpu"] == nil ? "any" : text(r["cpu"])),
            ("allocations", integer(r["allocations"])),
        ])
        if let mpc = object(r["mpc"]) {
            lines.append("")
            lines += planner(mpc, endEffector: [])
        }
        return lines.joined(separator: "\n")
    }

    static func hello(_ result: JSONValue) -> String {
        let r = result
        var role = text(r["role"])
        if let uid = int(r["uid"]) { role += " (uid \(uid))" }
        var pairs: [(String, String)] = [
            ("daemon", "\(text(r["daemon"])) \(text(r["version"]))"),
            ("protocol", text(r["protocol"])),
            ("robot", text(r["robot"])),
            ("dof", text(r["dof"])),
            ("role", role),
        ]
        if r["driver"] != nil { pairs.append(("driver", text(r["driver"]))) }
        if let rate = int(r["rate_hz"]) { pairs.append(("rate", "\(rate) Hz")) }
        if let modes = r["modes"]?.arrayValue { pairs.append(("modes", modes.map { text($0) }.joined(separator: ", "))) }
        return keyValues(pairs).joined(separator: "\n")
    }

    // MARK: telemetry

    /// One line per sample for pipes: `tick=… mode=… q=a,b,c` (q with 4 decimals).
    static func telemetryLine(_ params: JSONValue?) -> String {
        let p = params ?? [:]
        let q = doubles(p["q"]).map { fixed($0, 4) }.joined(separator: ",")
        return "tick=\(integer(p["tick"])) mode=\(text(p["mode"])) q=\(q)"
    }

    /// The full-screen view for a terminal.
    static func telemetryView(_ params: JSONValue?, names: [String], rateHz: Int?, samples: Int) -> [String] {
        let p = params ?? [:]
        var lines = ["robotd telemetry" + (rateHz.map { " at \($0) Hz" } ?? "") + "  (Ctrl-C to stop)", ""]
        lines += keyValues([
            ("tick", integer(p["tick"])),
            ("loop time", fixed(double(p["loop_time_s"]), 3) + " s"),
            ("mode", text(p["mode"])),
            ("dropped", integer(p["dropped"])),
            ("samples", String(samples)),
        ])
        lines.append("")
        lines += jointTable(names: names, q: doubles(p["q"]), v: doubles(p["v"]),
                            effort: doubles(p["effort"]), command: doubles(p["command"]))
        lines.append("")
        lines.append("end effector [m]  \(xyz(doubles(p["end_effector"])))")
        return lines
    }
}
