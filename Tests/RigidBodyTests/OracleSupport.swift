import Foundation

/// The shipped robots and a runner for the Python oracles in Tests/oracles (Pinocchio, MuJoCo),
/// for the tests that check RigidBody against them.
enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let shippedRobots = ["sim6", "so101", "koch"]

    static func urdfPath(_ robot: String) -> String {
        repoRoot.appendingPathComponent("hardware/robots/\(robot)/robot.urdf").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `python3 script arguments…` from the repository root to completion, feeding `stdin`.
    static func python(_ script: String, _ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repoRoot.appendingPathComponent(script).path] + arguments
        process.currentDirectoryURL = repoRoot
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errThread.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
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
