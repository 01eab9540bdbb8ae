import ControlProtocol
import ControlSocket
import Foundation

/// Text rendering of robotd's results: fixed decimals, aligned columns, `-` for missing values.
enum Format {
    // MARK: values

    /// A number as `text` of its JSON value shows it: an integral one without decimals, others
    /// with 3, `-` when missing.
    static func number(_ x: Double?) -> String {
        guard let x else { return "-" }
        if x.isFinite, x.rounded() == x, abs(x) < 9e15 { return String(Int(x)) }
        return fixed(x, 3)
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

    static func status(_ r: StatusResult) -> String {
        var mode = r.mode
        if let fault = r.fault { mode += " (fault: \(fault))" }
        var pairs = [
            ("mode", mode),
            ("rate", "\(r.rateHz) Hz"),
            ("ticks", String(r.tickCount)),
            ("overruns", String(r.overruns)),
        ]
        if let stale = r.staleStates { pairs.append(("stale states", String(stale))) }
        pairs.append(("uptime", duration(r.uptimeS)))
        var lines = keyValues(pairs)

        lines.append("")
        lines += jointTable(names: r.joints.names, q: r.joints.q, v: r.joints.v, effort: r.joints.effort, command: r.joints.command)

        lines.append("")
        let ee = r.endEffector
        lines.append("end effector (\(ee.frame)) position [m]  \(xyz(ee.position))")
        if let policy = r.policy { lines.append("policy  \(policy)" + (r.policyVersion.map { " (version \($0))" } ?? "")) }
        if let t = r.teleop, r.mode == "teleop" || t.received > 0 || t.takeoverFrom != nil {
            let age = t.inputAgeS.map { "newest input \(fixed($0 * 1000, 1)) ms old" } ?? "no input yet"
            lines.append("teleop  \(t.source), \(t.acting ? "following" : "holding"), \(age); latency p50 \(fixed(t.latencyP50Ms, 2)) ms, "
                + "p99 \(fixed(t.latencyP99Ms, 2)) ms; inputs \(t.received) received, \(t.refused) refused"
                + (t.takeoverFrom.map { "; taken over from \($0)" } ?? ""))
        }

        if let mpc = r.mpc {
            lines.append("")
            lines += planner(mpc, endEffector: ee.position)
        }
        if let bus = r.bus {
            lines.append("")
            lines += self.bus(bus, servos: true)
        }
        if let recording = r.recording { lines.append(Format.recording(recording)) }
        if let f = r.lastFallback {
            lines.append("")
            lines.append("last fallback to hold: from \(f.from) at t \(fixed(f.loopTimeS, 3)) s (\(f.count) in all): \(f.reason)")
        }

        lines.append("")
        if r.faults.isEmpty {
            lines.append("recent faults: none")
        } else {
            lines.append("recent faults (oldest first):")
            let rows = r.faults.map { f in [String(f.tick), fixed(f.loopTimeS, 3), f.reason, f.flightRecorder ?? "-"] }
            lines += table(["tick", "t [s]", "reason", "flight recorder"], rows, right: [true, true, false, false])
                .map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// The MPC planner's figures: target and distance to it, the newest plan, solve times.
    static func planner(_ mpc: PlannerStatus, endEffector: [Double]) -> [String] {
        var target = "none"
        var error = "-"
        switch mpc.target {
        case let .pose(position, _)?:
            target = "position " + xyz(position)
            if position.count == 3, endEffector.count == 3 {
                let sum = (0 ..< 3).reduce(0.0) { $0 + (position[$1] - endEffector[$1]) * (position[$1] - endEffector[$1]) }
                error = fixed(sum.squareRoot() * 1000, 2) + " mm"
            }
        case let .joints(q)?:
            target = "joints " + q.map { fixed($0, 4) }.joined(separator: " ")
        case let .path(waypoints, period)?:
            target = "path of \(waypoints.count) waypoints, \(fixed(period, 2)) s per lap"
        case nil:
            break
        }
        return ["mpc planner:"] + keyValues([
            ("target", target),
            ("distance to target", error),
            ("newest plan", "\(mpc.status), \(fixed(mpc.planAgeMs, 1)) ms old, \(mpc.iterations) iterations"),
            ("solves", "\(mpc.solves), last \(fixed(mpc.solveMs, 2)) ms, max \(fixed(mpc.maxSolveMs, 2)) ms at \(mpc.rateHz) Hz"),
            ("model", "version \(mpc.modelVersion), disagreement \(fixed(mpc.disagreement, 4)), \(mpc.uncertainPlans) plans withdrawn"),
        ]).map { "  " + $0 }
    }

    static func jointTable(names: [String], q: [Double], v: [Double], effort: [Double], command: [Double]) -> [String] {
        let count = max(names.count, q.count, v.count, effort.count, command.count)
        func at(_ a: [Double], _ i: Int) -> Double? { i < a.count ? a[i] : nil }
        let rows = (0..<count).map { i -> [String] in
            [i < names.count ? names[i] : "joint \(i + 1)",
             fixed(at(q, i), 4), fixed(at(v, i), 4), fixed(at(effort, i), 3), fixed(at(command, i), 3)]
        }
        return table(["joint", "q [rad]", "v [rad/s]", "effort [N·m]", "command"], rows,
                     right: [false, true, true, true, true])
    }

    static func xyz(_ p: [Double]) -> String {
        guard p.count == 3 else { return p.isEmpty ? "-" : p.map { fixed($0, 4) }.joined(separator: " ") }
        return "x \(fixed(p[0], 4))  y \(fixed(p[1], 4))  z \(fixed(p[2], 4))"
    }

    static func timing(_ r: TimingResult) -> String {
        let header = ["[µs]", "p50", "p90", "p99", "p99.9", "max", "mean"]
        let latencies: [(String, TimingResult.Latency?)] = [("wake latency", r.wakeLatencyUs), ("compute", r.computeUs), ("compute (CPU)", r.computeCPUUs)]
        let rows = latencies.compactMap { label, l in
            l.map { l in [label] + [l.p50, l.p90, l.p99, l.p99_9, l.max, l.mean].map { fixed($0, 1) } }
        }
        var lines = table(header, rows, right: [false] + Array(repeating: true, count: header.count - 1))
        lines.append("")
        var scheduler = r.scheduler
        if let priority = r.rtPriority { scheduler += ", priority \(priority)" }
        lines += keyValues([
            ("ticks", String(r.ticks)),
            ("overruns", "\(r.overruns)  (worst streak \(r.worstOverrunStreak))"),
            ("late ticks", r.lateTicks.map { "\($0)  (one per stall, as cyclictest counts)" } ?? "-"),
            ("scheduler", scheduler),
            ("memory locked", r.memoryLocked ? "yes" : "no"),
            ("cpu", r.cpu.map(String.init) ?? "any"),
            ("early wake", r.earlyWakeUs.map { $0 > 0 ? "\(fixed($0, 0)) µs" : "off" } ?? "-"),
            ("allocations", String(r.allocations)),
        ])
        if let mpc = r.mpc {
            lines.append("")
            lines += planner(mpc, endEffector: [])
        }
        if let bus = r.bus {
            lines.append("")
            lines += self.bus(bus, servos: false)
        }
        return lines.joined(separator: "\n")
    }

    /// The servo bus: its state, cycle timing and error rates, the calibration in use, and (for
    /// `status`) a row per servo with its errors, temperature, voltage and hardware error.
    static func bus(_ b: BusStatus, servos: Bool) -> [String] {
        var pairs = [
            ("state", b.state + (b.lastFault.map { " (last fault: \($0))" } ?? "")),
            ("port", "\(b.port)  (\(b.protocol), \(b.baud) baud)"),
            ("cycle", "\(fixed(b.cycleHz, 1)) Hz of \(fixed(b.targetHz, 0)) Hz, p50 \(fixed(b.cycleP50Us, 0)) µs, p99 \(fixed(b.cycleP99Us, 0)) µs"),
            ("cycles", "\(b.cycles)  (failed \(b.failedCycles))"),
            ("errors", "\(fixed(b.errorsPerS, 1))/s, retries \(fixed(b.retriesPerS, 1))/s"),
        ]
        if let hash = b.calibrationHash {
            pairs.append(("calibration", "\(b.calibrationFile ?? "-")  sha256 \(hash.prefix(16))…"))
        }
        var lines = ["servo bus:"] + keyValues(pairs).map { "  " + $0 }
        if servos, !b.servos.isEmpty {
            let rows = b.servos.map { s in
                [String(s.id), s.joint, String(s.errors), s.temperatureC.map { fixed($0, 0) } ?? "-",
                 s.voltageV.map { fixed($0, 1) } ?? "-", s.hardwareError ?? "-"]
            }
            lines += table(["id", "joint", "errors", "°C", "V", "hardware error"], rows, right: [true, false, true, true, true, false])
                .map { "  " + $0 }
        }
        return lines
    }

    static func hello(_ r: HelloResult) -> String {
        keyValues([
            ("daemon", "\(r.daemon) \(r.version)"),
            ("protocol", String(r.protocol)),
            ("robot", r.robot),
            ("dof", String(r.dof)),
            ("role", "\(r.role) (uid \(r.uid))"),
            ("driver", r.driver),
            ("rate", "\(r.rateHz) Hz"),
            ("modes", r.modes.joined(separator: ", ")),
        ]).joined(separator: "\n")
    }

    /// `model.status` as aligned lines; numbers as `number` shows them.
    static func model(_ m: ModelStatus) -> String {
        [
            "version          \(m.version) (planner uses \(m.plannerVersion))",
            "samples          \(m.samples) (seen \(m.samplesSeen))",
            "rounds           \(m.rounds) (last took \(number(m.lastTrainingSeconds)) s)",
            "validation mse   \(number(m.validationMSE)) (rigid body \(number(m.nominalMSE)))",
            "disagreement     \(number(m.disagreement)) (along the newest plan)",
            "last outcome     \(m.lastOutcome)",
            "learner cpus     \(JSONValue.array(m.cpus.map { JSONValue($0) }).serialized)",
        ].joined(separator: "\n")
    }

    // MARK: telemetry

    /// One line per sample for pipes: `tick=… mode=… q=a,b,c` (q with 4 decimals).
    static func telemetryLine(_ p: TelemetrySample) -> String {
        "tick=\(p.tick) mode=\(p.mode) q=\(p.q.map { fixed($0, 4) }.joined(separator: ","))"
    }

    /// The full-screen view for a terminal.
    static func telemetryView(_ p: TelemetrySample, names: [String], rateHz: Int?, samples: Int) -> [String] {
        var lines = ["robotd telemetry" + (rateHz.map { " at \($0) Hz" } ?? "") + "  (Ctrl-C to stop)", ""]
        lines += keyValues([
            ("tick", String(p.tick)),
            ("loop time", fixed(p.loopTimeS, 3) + " s"),
            ("mode", p.mode),
            ("dropped", String(p.dropped)),
            ("samples", String(samples)),
        ])
        lines.append("")
        lines += jointTable(names: names, q: p.q, v: p.v, effort: p.effort, command: p.command)
        lines.append("")
        lines.append("end effector [m]  \(xyz(p.endEffector))")
        return lines
    }
}
