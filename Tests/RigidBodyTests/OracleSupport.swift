import Foundation
import TestProcess

/// The shipped robots and a runner for the Python oracles in Tests/oracles (Pinocchio, MuJoCo),
/// for the tests that check RigidBody against them.
enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let shippedRobots = ["sim6", "so101", "koch"]

    static func urdfPath(_ robot: String) -> String {
        repoRoot.appendingPathComponent("hardware/robots/\(robot)/robot.urdf").path
    }

    /// Robot descriptions written like the ones found in the wild (point masses, mimic joints),
    /// in Tests/RigidBodyTests/Fixtures.
    static let fixtures = ["point_masses", "mimic_gripper"]

    static func fixturePath(_ name: String) -> String {
        repoRoot.appendingPathComponent("Tests/RigidBodyTests/Fixtures/\(name).urdf").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `python3 script arguments…` from the repository root to completion, feeding `stdin`.
    static func python(_ script: String, _ arguments: [String], stdin: String? = nil) throws -> Result {
        let r = try ChildProcess.python(script, arguments, stdin: stdin.map { Data($0.utf8) })
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
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
