import Foundation
import Testing

@testable import RobotdConfig

/// Issue 12, items 8 and 9: nesting and sizes are bounded before Yams recurses, non-finite
/// numbers are refused everywhere with their key path, and what a configuration names on this
/// machine (the URDF file, CPUs) and the socket path fit what the daemon can use.
@Suite struct ConfigLimitsTests {
    private func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: nil)
            return nil
        } catch {
            return error
        }
    }

    /// Writes `yaml` to a fresh file and loads it as `check-config` does.
    private func loadError(_ yaml: String) throws -> ConfigError? {
        let directory = FileManager.default.temporaryDirectory.appending(path: "robotd-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "robotd.yaml").path(percentEncoded: false)
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader.load(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test func deepFlowNestingIsRefusedBeforeYamsRecurses() throws {
        // 5 000 levels overflowed the stack inside Yams' composer.
        for depth in [YAMLNesting.maxDepth + 1, 5_000, 100_000] {
            let yaml = "mpc:\n  weights: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
            let e = try #require(error(yaml), "depth \(depth)")
            #expect(e.code == .tooDeep, "\(e)")
            #expect(e.line == 2 && e.message.contains("more than \(YAMLNesting.maxDepth) levels"), "\(e)")
        }
    }

    @Test func deepBlockNestingIsRefusedAtTheFirstLineTooDeep() throws {
        // Mapping d (d = 1 is the document's) starts at its first key, on line d.
        var yaml = ""
        for level in 0 ..< 100 { yaml += String(repeating: " ", count: level) + "k\(level):\n" }
        yaml += String(repeating: " ", count: 100) + "x: 1\n"
        let e = try #require(error(yaml))
        #expect(e.code == .tooDeep, "\(e)")
        #expect(e.line == YAMLNesting.maxDepth + 1, "\(e)")
    }

    @Test func nestingAtTheLimitReachesTheSchema() throws {
        let depth = YAMLNesting.maxDepth - 2   // the document and mpc are two levels
        let yaml = "mpc:\n  weights: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let e = try #require(error(yaml))
        #expect(e.code == .wrongType && e.keyPath == "mpc.weights", "\(e)")
    }

    /// Keys that are data (joint names) can number in the tens of thousands within the size
    /// limit; every one is decoded and checked (lookups were linear scans, quadratic overall).
    @Test func manyJointOverridesDecode() throws {
        let count = 20_000
        let yaml = "limits:\n  joints:\n" + (0 ..< count).map { "    j\($0): {velocity: \($0 + 1)}\n" }.joined()
        let config = try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: nil)
        #expect(config.limits.joints.count == count)
        #expect(config.limits.joints["j12345"]?.velocity == 12_346)
        let e = try #require(error(yaml + "    j7: {velocity: 1}\n"))
        #expect(e.code == .duplicateKey && e.keyPath == "limits.joints.j7" && e.line == count + 3, "\(e)")
    }

    @Test func aHugeUnknownKeyIsReportedWithoutASuggestion() throws {
        let key = String(repeating: "rate_hz", count: 100_000)
        // An explicit key (`? …`): YAML limits implicit keys to 1 024 characters.
        let e = try #require(error("loop:\n  ? \(key)\n  : 1\n"))
        #expect(e.code == .unknownKey && e.line == 2, "\(e)")
        #expect(!e.message.contains("did you mean") && e.description.utf8.count < 1_500, "\(e.description.utf8.count)")
    }

    @Test func textLargerThanTheLimitIsRefused() throws {
        let e = try #require(error("# " + String(repeating: "x", count: ConfigLoader.maxBytes)))
        #expect(e.code == .tooLarge && e.message.contains("\(ConfigLoader.maxBytes)"), "\(e)")
    }

    @Test func aConfigurationThatIsNotARegularFileIsRefused() throws {
        for path in ["/dev/zero", FileManager.default.temporaryDirectory.path(percentEncoded: false)] {
            do {
                _ = try ConfigLoader.load(path: path)
                Issue.record("\(path) loaded")
            } catch {
                #expect(error.code == .unreadable && error.file == path, "\(error)")
                #expect(error.message.contains("not a regular file"), "\(error)")
            }
        }
    }

    @Test(arguments: [
        ("mpc:\n  dt: \"nan\"\n", "mpc.dt"),
        ("mpc:\n  dt: .nan\n", "mpc.dt"),
        ("mpc:\n  dt: nan\n", "mpc.dt"),
        ("mpc:\n  dt: .inf\n", "mpc.dt"),
        ("mpc:\n  dt: 1e999\n", "mpc.dt"),
        ("control:\n  hold: {kp: [1, .NaN, 3]}\n", "control.hold.kp[1]"),
        ("control:\n  hold:\n    kd: -.inf\n", "control.hold.kd"),
        ("limits:\n  joints:\n    elbow: {lower: .nan}\n", "limits.joints.elbow.lower"),
        ("limits:\n  joints:\n    elbow: {upper: 1e400}\n", "limits.joints.elbow.upper"),
        ("driver:\n  simulation:\n    payload_offset: [0, 'nan', 0]\n", "driver.simulation.payload_offset[1]"),
        ("driver:\n  simulation:\n    initial_position: [-1e309]\n", "driver.simulation.initial_position[0]"),
    ])
    func nonFiniteNumbersAreRefusedWithTheirKeyPath(_ yaml: String, _ keyPath: String) throws {
        let e = try #require(error(yaml))
        #expect(e.code == .wrongType || e.code == .outOfRange, "\(e)")
        #expect(e.keyPath == keyPath, "\(e)")
        #expect(e.line == yaml.split(separator: "\n").count, "\(e)")
    }

    @Test func overflowingNumbersSayTheyAreNotFinite() throws {
        let e = try #require(error("driver:\n  simulation:\n    payload_offset: [0, 1e999, 0]\n"))
        #expect(e.code == .outOfRange && e.message.contains("not a finite number"), "\(e)")
    }

    @Test func socketPathsLongerThanSunPathAreRefused() throws {
        let fits = "/" + String(repeating: "s", count: DaemonConfiguration.Socket.maxPathBytes - 1)
        #expect(fits.utf8.count == 107)
        let config = try ConfigLoader.parse("socket:\n  path: \(fits)\n", file: "test.yaml", baseDirectory: nil)
        #expect(config.socket.path == fits)
        let e = try #require(error("socket:\n  path: \(fits)s\n"))
        #expect(e.code == .outOfRange && e.keyPath == "socket.path" && e.line == 2, "\(e)")
        #expect(e.message.contains("108 bytes") && e.message.contains("at most 107"), "\(e)")
    }

    @Test func cpusBeyondCPUSetSizeAreRefused() throws {
        for key in ["loop", "learning"] {
            for cpu in [1024, 100_000] {
                let e = try #require(error("\(key):\n  cpu_affinity: \(cpu)\n"))
                #expect(e.code == .outOfRange && e.keyPath == "\(key).cpu_affinity" && e.line == 2, "\(e)")
                #expect(e.message.contains("0…1023"), "\(e)")
            }
        }
    }

    @Test func cpusOutsideTheProcessAffinityAreRefusedWhenLoadingAFile() throws {
        let allowed = try Self.allowedCPUsFromProc()
        let outside = try #require((0 ..< 1024).first { !allowed.contains($0) })
        for key in ["loop", "learning"] {
            let e = try #require(try loadError("\(key):\n  cpu_affinity: \(outside)\n"))
            #expect(e.code == .invalidValue && e.keyPath == "\(key).cpu_affinity" && e.line == 2, "\(e)")
            #expect(e.message.contains("CPU \(outside) is not one this process may run on"), "\(e)")
        }
        // Checked against the machine only when loading a file, not when parsing text.
        #expect(error("loop:\n  cpu_affinity: \(outside)\n") == nil)
        let first = try #require(allowed.min())
        #expect(try loadError("loop:\n  cpu_affinity: \(first)\n") == nil)
    }

    /// The kernel's own account of the affinity mask: `Cpus_allowed_list: 0-3,8` in /proc.
    static func allowedCPUsFromProc() throws -> Set<Int> {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        var cpus = Set<Int>()
        for part in line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            let low = try #require(bounds.first), high = try #require(bounds.last)
            cpus.formUnion(low ... high)
        }
        return cpus
    }

    @Test func aURDFThatIsNotARegularFileIsRefusedWhenLoadingAFile() throws {
        for path in ["/dev/zero", "/tmp"] {
            let e = try #require(try loadError("robot:\n  urdf: \(path)\n"))
            #expect(e.code == .invalidValue && e.keyPath == "robot.urdf" && e.line == 2, "\(e)")
            #expect(e.message.contains("not a regular file"), "\(e)")
        }
    }

    @Test func aURDFLargerThanTheLimitIsRefusedWhenLoadingAFile() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "robotd-urdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let urdf = directory.appending(path: "big.urdf").path(percentEncoded: false)
        // Sparse: the size is what counts, and it costs no disk.
        #expect(FileManager.default.createFile(atPath: urdf, contents: nil))
        #expect(truncate(urdf, off_t(DaemonConfiguration.Robot.maxURDFBytes + 1)) == 0)
        let e = try #require(try loadError("robot:\n  urdf: \(urdf)\n"))
        #expect(e.code == .tooLarge && e.keyPath == "robot.urdf" && e.line == 2, "\(e)")
        #expect(e.message.contains("\(DaemonConfiguration.Robot.maxURDFBytes)"), "\(e)")
    }
}
