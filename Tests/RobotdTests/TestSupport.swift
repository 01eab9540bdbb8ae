import Foundation
import TestProcess

/// Paths and process helpers shared by the end-to-end tests.
enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let shippedRobots = ["sim6", "so101", "koch"]

    static func urdfPath(_ robot: String) -> String {
        repoRoot.appendingPathComponent("hardware/robots/\(robot)/robot.urdf").path
    }

    /// The `robotd` built next to the test executable.
    static var robotdPath: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = dir.appendingPathComponent("robotd").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return repoRoot.appendingPathComponent(".build/debug/robotd").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a process to completion in the repository root, feeding `stdin`, and collects its output.
    static func run(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> Result {
        let r = try ChildProcess.run(executable, arguments, stdin: stdin.map { Data($0.utf8) })
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    static func python(_ script: String, _ arguments: [String], stdin: String? = nil) throws -> Result {
        try run("/usr/bin/env", ["python3", repoRoot.appendingPathComponent(script).path] + arguments, stdin: stdin)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }
}

/// Flattens nested JSON arrays of numbers into one row-major array.
func flatten(_ any: Any?) -> [Double] {
    if let x = any as? Double { return [x] }
    if let x = any as? NSNumber { return [x.doubleValue] }
    if let a = any as? [Any] { return a.flatMap { flatten($0) } }
    return []
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
