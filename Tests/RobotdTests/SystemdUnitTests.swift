import Foundation
import Testing

/// The shipped systemd integration (`systemd/`): the units pass `systemd-analyze verify`, the
/// service keeps the directives the daemon relies on, and the sysusers.d/tmpfiles.d snippets
/// create what they promise. Nothing here talks to a running systemd: `systemd-analyze verify`
/// loads unit files offline, and sysusers/tmpfiles run against a temporary `--root`.
@Suite struct SystemdUnitTests {
    static let unitDirectory = TestSupport.repoRoot.appendingPathComponent("systemd")

    // MARK: systemd-analyze verify

    @Test func unitsPassSystemdAnalyzeVerify() throws {
        let analyze = try Self.systemdTool("systemd-analyze")
        let dir = try Self.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }

        // `verify` insists that ExecStart's binary exists: point it at one that does.
        let binary = FileManager.default.isExecutableFile(atPath: TestSupport.robotdPath) ? TestSupport.robotdPath : "/bin/true"
        let service = try Self.unitText("robotd.service")
        let shipped = "ExecStart=/usr/local/bin/robotd "
        try #require(service.contains(shipped), "robotd.service must start /usr/local/bin/robotd")
        let rewritten = service.replacingOccurrences(of: shipped, with: "ExecStart=\(Self.execQuoted(binary)) ")
        try rewritten.write(to: dir.appendingPathComponent("robotd.service"), atomically: true, encoding: .utf8)
        try Self.unitText("robotd.socket").write(to: dir.appendingPathComponent("robotd.socket"), atomically: true, encoding: .utf8)

        let run = try TestSupport.run(analyze, Self.verifyArguments + [
            dir.appendingPathComponent("robotd.socket").path, dir.appendingPathComponent("robotd.service").path,
        ])
        let output = run.stdout + run.stderr
        #expect(run.status == 0, "systemd-analyze verify failed (\(run.status)):\n\(output)")
        // Unknown keys and unparsable values are only warnings (exit 0): any line naming our
        // units is a defect.
        let complaints = output.split(separator: "\n").filter { $0.contains("robotd.service") || $0.contains("robotd.socket") }
        #expect(complaints.isEmpty, "systemd-analyze verify complained:\n\(complaints.joined(separator: "\n"))")
    }

    /// `--man=no`: the units' Documentation= is not a man page. `--generators=no`: generators need
    /// a booted system. `--recursive-errors=no`: judge only our units, not the host's targets
    /// they are wanted by (this runs in containers where systemd is installed but not PID 1).
    static let verifyArguments = ["verify", "--man=no", "--generators=no", "--recursive-errors=no"]

    // MARK: the directives the daemon relies on

    @Test func serviceKeepsTheDirectivesTheDaemonNeeds() throws {
        let unit = try Self.parsedUnit("robotd.service")
        let service = unit["Service"] ?? [:]
        func one(_ key: String) -> String? { service[key]?.last }
        func words(_ key: String) -> [String] { (service[key] ?? []).flatMap(Self.words) }

        #expect(one("Type") == "notify", "the daemon sends READY=1/STATUS=/WATCHDOG=1 (Type=notify)")
        let watchdog = try #require(one("WatchdogSec"), "WatchdogSec= arms the daemon's WATCHDOG=1 feeding")
        #expect(!["", "0", "infinity", "off"].contains(watchdog), "WatchdogSec=\(watchdog) disables the watchdog")
        #expect(one("Restart") == "on-failure")
        #expect(words("RestartPreventExitStatus").contains("78"), "exit 78 (configuration rejected) must not restart-loop")

        let exec = try #require(one("ExecStart"))
        let argv = Self.words(exec)
        #expect(argv.first == "/usr/local/bin/robotd")
        #expect(exec.contains("run --config "), "ExecStart must be `robotd run --config PATH`: \(exec)")
        #expect(argv.last == "/etc/robotd/robotd.yaml")

        #expect(words("RuntimeDirectory").contains("robotd"), "control socket lives in /run/robotd")
        #expect(words("StateDirectory").contains("robotd"), "data_directory is /var/lib/robotd")
        #expect(words("ConfigurationDirectory").contains("robotd"))
        #expect(words("Environment").contains("OPENBLAS_NUM_THREADS=1"))

        // Real time: SCHED_FIFO up to the shipped config's loop.rt_priority, and mlockall().
        let rtprio = try #require(one("LimitRTPRIO").flatMap { Int($0) }, "LimitRTPRIO= must be a number")
        #expect(rtprio >= Self.shippedRealtimePriority, "LimitRTPRIO=\(rtprio) < loop.rt_priority \(Self.shippedRealtimePriority)")
        #expect(one("LimitMEMLOCK") == "infinity")
        #expect(!Self.isTrue(one("RestrictRealtime")), "RestrictRealtime=yes forbids SCHED_FIFO")
        if let user = one("User"), user != "root" {
            for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
                #expect(words(key).contains("CAP_SYS_NICE") && words(key).contains("CAP_IPC_LOCK"),
                        "\(key)= needs CAP_SYS_NICE and CAP_IPC_LOCK for user \(user)")
            }
        }
        // A deny list must not take away scheduling or memory locking; an allow list must grant them.
        for filter in service["SystemCallFilter"] ?? [] {
            let names = Self.words(filter.hasPrefix("~") ? String(filter.dropFirst()) : filter)
            if filter.hasPrefix("~") {
                let forbidden: Set = ["@resources", "@memlock", "@system-service", "sched_setscheduler", "sched_setaffinity", "mlockall"]
                #expect(forbidden.isDisjoint(with: names), "SystemCallFilter=\(filter) blocks what the control thread needs")
            } else {
                #expect(names.contains("@system-service") || names.contains("@resources"),
                        "SystemCallFilter=\(filter) does not allow sched_setscheduler/mlockall")
            }
        }
        // Serial buses stay reachable behind DevicePolicy=closed.
        if one("DevicePolicy") == "closed" || one("DevicePolicy") == "strict" {
            let allowed = (service["DeviceAllow"] ?? []).map { Self.words($0).first ?? "" }
            #expect(allowed.contains("char-ttyUSB") && allowed.contains("char-ttyACM"), "DeviceAllow=: \(allowed)")
        }
    }

    @Test func socketMatchesTheService() throws {
        let socket = try Self.parsedUnit("robotd.socket")["Socket"] ?? [:]
        let service = try Self.parsedUnit("robotd.service")["Service"] ?? [:]
        #expect(socket["ListenStream"] == ["/run/robotd/robotd.sock"])
        #expect((socket["Service"]?.last ?? "robotd.service") == "robotd.service")
        #expect(socket["SocketMode"]?.last == "0660")
        #expect(socket["SocketUser"]?.last == "robotd" && socket["SocketGroup"]?.last == "robotd")
        #expect(!Self.isTrue(socket["Accept"]?.last), "one daemon serves every connection: Accept=no")
        // The socket file sits in the service's RuntimeDirectory, which must then survive a stop
        // of the service (or systemd deletes the socket unit's file with it).
        #expect((service["RuntimeDirectory"] ?? []).flatMap(Self.words).contains("robotd"))
        #expect(Self.isTrue(service["RuntimeDirectoryPreserve"]?.last), "RuntimeDirectoryPreserve=yes keeps /run/robotd/robotd.sock")
    }

    // MARK: sysusers.d and tmpfiles.d, against a temporary root

    @Test func sysusersCreatesTheRobotdUser() throws {
        let sysusers = try Self.systemdTool("systemd-sysusers")
        let root = try Self.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.seedRoot(root)

        let run = try TestSupport.run(sysusers, ["--root=\(root.path)", Self.unitDirectory.appendingPathComponent("robotd.sysusers").path])
        try #require(run.status == 0, "systemd-sysusers failed:\n\(run.stdout)\(run.stderr)")
        let passwd = try Self.entries(root, "etc/passwd"), group = try Self.entries(root, "etc/group")
        let user = try #require(passwd["robotd"], "no robotd in passwd:\n\(passwd)")
        try #require(user.count == 7, "malformed passwd entry \(user)")
        #expect(user[5] == "/var/lib/robotd")
        #expect(user[6] == "/usr/sbin/nologin")
        let primary = try #require(group["robotd"], "no robotd group")
        #expect(user[3] == primary[2], "robotd's primary group is robotd")
        // Debian ships dialout (GID 20): robotd joins it rather than getting a new one.
        #expect(group["dialout"]?[2] == "20")
        #expect(group["dialout"]?[3].split(separator: ",").contains("robotd") == true, "robotd must be in dialout: \(group["dialout"] ?? [])")
    }

    /// Needs root: tmpfiles chowns the directory to robotd.
    @Test(.enabled(if: geteuid() == 0, "systemd-tmpfiles chowns to robotd: needs root"))
    func tmpfilesCreatesTheStateDirectory() throws {
        let sysusers = try Self.systemdTool("systemd-sysusers"), tmpfiles = try Self.systemdTool("systemd-tmpfiles")
        let root = try Self.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.seedRoot(root)
        // tmpfiles resolves robotd in <root>/etc/passwd, so create the user first.
        let users = try TestSupport.run(sysusers, ["--root=\(root.path)", Self.unitDirectory.appendingPathComponent("robotd.sysusers").path])
        try #require(users.status == 0, "systemd-sysusers failed:\n\(users.stderr)")

        let run = try TestSupport.run(tmpfiles, ["--root=\(root.path)", "--create", Self.unitDirectory.appendingPathComponent("robotd.tmpfiles").path])
        try #require(run.status == 0, "systemd-tmpfiles failed (\(run.status)):\n\(run.stdout)\(run.stderr)")
        let uid = try #require(Self.entries(root, "etc/passwd")["robotd"].flatMap { UInt32($0[2]) })
        let gid = try #require(Self.entries(root, "etc/group")["robotd"].flatMap { UInt32($0[2]) })
        var st = stat()
        try #require(lstat(root.appendingPathComponent("var/lib/robotd").path, &st) == 0, "no <root>/var/lib/robotd")
        #expect(st.st_mode & S_IFMT == S_IFDIR)
        #expect(st.st_mode & 0o7777 == 0o750)
        #expect(st.st_uid == uid && st.st_gid == gid)
    }

    // MARK: helpers

    /// The path of a systemd tool; fails the test with the set-up hint when it is missing.
    static func systemdTool(_ name: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in path + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingSystemdTool(name: name)
    }

    struct MissingSystemdTool: Error, CustomStringConvertible {
        var name: String
        var description: String { "\(name) not found: run scripts/setup.sh --test (it installs the Debian package systemd)" }
    }

    static func unitText(_ name: String) throws -> String {
        try String(contentsOf: unitDirectory.appendingPathComponent(name), encoding: .utf8)
    }

    /// A unit file as section → key → values (in order; a key may repeat). Handles comments and
    /// backslash continuation lines; values are kept raw (no specifier expansion).
    static func parsedUnit(_ name: String) throws -> [String: [String: [String]]] {
        var result: [String: [String: [String]]] = [:]
        var section = ""
        var pending = ""
        for rawLine in try unitText(name).split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + rawLine.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line + " "
                continue
            }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            result[section, default: [:]][key, default: []].append(value)
        }
        return result
    }

    /// Splits a unit value into words, honouring double and single quotes.
    static func words(_ value: String) -> [String] {
        var out: [String] = [], current = "", quote: Character?
        var inWord = false
        for c in value {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { out.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord { out.append(current) }
        return out
    }

    static func isTrue(_ value: String?) -> Bool {
        guard let v = value?.lowercased() else { return false }
        return ["yes", "true", "on", "1"].contains(v)
    }

    /// An executable path as the first word of ExecStart= (quoted if needed, `%` escaped).
    static func execQuoted(_ path: String) -> String {
        let escaped = path.replacingOccurrences(of: "%", with: "%%")
        return escaped.contains(where: { $0 == " " || $0 == "\t" }) ? "\"\(escaped)\"" : escaped
    }

    /// loop.rt_priority in configs/sim.yaml (80 if it cannot be read).
    static var shippedRealtimePriority: Int {
        let yaml = (try? String(contentsOf: TestSupport.repoRoot.appendingPathComponent("configs/sim.yaml"), encoding: .utf8)) ?? ""
        for line in yaml.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("rt_priority:") else { continue }
            let value = t.dropFirst("rt_priority:".count).split(separator: "#").first?.trimmingCharacters(in: .whitespaces)
            if let n = value.flatMap({ Int($0) }) { return n }
        }
        return 80
    }

    static func makeTemporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-systemd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Never let a --root= degenerate into the real root.
        try #require(dir.standardizedFileURL.path != "/" && dir.path.count > 5)
        return dir
    }

    /// A minimal <root>/etc like Debian's: dialout exists with GID 20.
    static func seedRoot(_ root: URL) throws {
        let etc = root.appendingPathComponent("etc")
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        try "root:x:0:0:root:/root:/bin/sh\n".write(to: etc.appendingPathComponent("passwd"), atomically: true, encoding: .utf8)
        try "root:x:0:\ndialout:x:20:\n".write(to: etc.appendingPathComponent("group"), atomically: true, encoding: .utf8)
    }

    /// passwd(5)/group(5) entries by name: the colon-separated fields.
    static func entries(_ root: URL, _ file: String) throws -> [String: [String]] {
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        var out: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if fields.count >= 4 { out[fields[0]] = fields }
        }
        return out
    }
}
