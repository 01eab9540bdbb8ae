import Foundation
import Testing

/// hardware/udev/99-robotd-serial.rules in udev's syntax (udev(7)): every rule line is a comma-
/// separated list of KEY[{attribute}] OP "value" with a known key and operator, match keys only
/// with == / !=, and it sets what docs/servo-buses.md §3 promises (the FTDI latency timer to 1 ms,
/// the adapters to group dialout mode 0660, which robotd.service joins). `udevadm verify` is not on
/// every build machine; this is the check that is.
@Suite struct UdevRulesTests {
    static let path = TestSupport.repoRoot.appendingPathComponent("hardware/udev/99-robotd-serial.rules").path
    static let matchKeys: Set<String> = ["ACTION", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS", "KERNEL", "KERNELS", "ATTR", "ATTRS", "ENV"]
    static let assignKeys: Set<String> = ["ATTR", "GROUP", "MODE", "OWNER", "SYMLINK", "ENV", "RUN", "TAG"]

    static func rules() throws -> [[(key: String, attribute: String?, op: String, value: String)]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let item = try Regex(#"^\s*([A-Z]+)(?:\{([A-Za-z0-9_]+)\})?\s*(==|!=|\+=|:=|=)\s*"([^"]*)"\s*$"#)
        var out: [[(String, String?, String, String)]] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            var rule: [(String, String?, String, String)] = []
            for part in t.split(separator: ",") {
                guard let m = String(part).wholeMatch(of: item) else {
                    Issue.record("line \(n + 1): \"\(part)\" is not KEY[{attr}] OP \"value\"")
                    continue
                }
                let key = String(m.output[1].substring!), op = String(m.output[3].substring!)
                let attribute = m.output[2].substring.map(String.init), value = String(m.output[4].substring!)
                let isMatch = op == "==" || op == "!="
                #expect(isMatch ? Self.matchKeys.contains(key) : Self.assignKeys.contains(key), "line \(n + 1): \(key) \(op)")
                rule.append((key, attribute, op, value))
            }
            out.append(rule)
        }
        return out
    }

    @Test func rulesParseAndSetWhatTheDocsPromise() throws {
        let rules = try Self.rules()
        #expect(!rules.isEmpty)
        let latency = rules.first { r in r.contains { $0.key == "DRIVER" && $0.value == "ftdi_sio" } }
        #expect(latency?.contains { $0.key == "ATTR" && $0.attribute == "latency_timer" && $0.op == "=" && $0.value == "1" } == true)
        let access = rules.filter { r in r.contains { $0.key == "GROUP" } }
        #expect(!access.isEmpty && access.allSatisfy { r in
            r.contains { $0.key == "GROUP" && $0.value == "dialout" } && r.contains { $0.key == "MODE" && $0.value == "0660" }
        })
        let unit = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("systemd/robotd.service"), encoding: .utf8)
        #expect(unit.contains("SupplementaryGroups=dialout"), "the service must join the group the rules give the adapters")
    }
}
