import Foundation

/// The test suites' one way to run a child process (a Python oracle, `robotd`, a reference SDK)
/// to completion: stdin fed, stdout and stderr collected without deadlock.
public enum ChildProcess {
    /// The repository's root (this file is Tests/TestProcess/ChildProcess.swift).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public struct Result: Sendable {
        public var status: Int32
        public var stdoutData: Data
        public var stderr: String
        public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    }

    /// Runs `executable arguments…` in the repository root to completion, feeding `stdin`.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Drain stderr on its own thread while stdout is read here, so that a child writing a
        // lot to either cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readToEndRetryingEINTR() }
        errThread.start()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readToEndRetryingEINTR()
        process.waitUntilExit()
        while !errThread.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Result(status: process.terminationStatus, stdoutData: outData, stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs `python3 <repository>/script arguments…` (the oracles under Tests/oracles).
    public static func python(_ script: String, _ arguments: [String] = [], stdin: Data? = nil) throws -> Result {
        try run("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent(script).path] + arguments, stdin: stdin)
    }
}
