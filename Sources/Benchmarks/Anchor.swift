import Foundation

/// A reference implementation run side by side with a benchmark, in the same run, so that a
/// figure is a ratio on the machine at hand and never one against a number recorded on another
/// CPU (PyTorch for `bench train`/`bench policy`, Pinocchio for `bench dynamics`, Crocoddyl for
/// `bench ilqr`, cyclictest for `bench loop`).
///
/// Contract of an anchor program: it runs the same work as the benchmark and prints exactly one
/// JSON object on its last line of standard output (its figures, plus "version" when known).
/// An anchor that is not installed is not an error: the benchmark reports
/// `"anchor": {"name": …, "available": false, "reason": …}` and its own figures.
public enum Anchor {
    /// Where the anchors' programs live: `$ROBOTD_ANCHORS` if set, else the first
    /// `Benchmarks/anchors` found walking up from the executable (…/.build/release/robotd in a
    /// checkout), else `Benchmarks/anchors` under the working directory.
    public static func directory() -> URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["ROBOTD_ANCHORS"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let exe = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Benchmarks/anchors")
            if fm.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Benchmarks/anchors")
        return fm.fileExists(atPath: cwd.path) ? cwd : nil
    }

    /// The path of one anchor file (e.g. "torch_train.py"), or nil when it is not there.
    public static func file(_ name: String) -> String? {
        guard let dir = directory() else { return nil }
        let path = dir.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The first executable called `name` on $PATH (`python3`, `cyclictest`, `g++`).
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The Python that runs the Python anchors: `$ROBOTD_PYTHON`, else python3 on $PATH.
    public static func python() -> String? {
        if let env = ProcessInfo.processInfo.environment["ROBOTD_PYTHON"], !env.isEmpty { return env }
        return which("python3")
    }

    /// What running an anchor gave: its JSON object, or why there is none.
    public enum Outcome {
        case ran([String: Any])
        case unavailable(String)
    }

    /// Runs `executable arguments…` to completion (at most `timeout` seconds, then SIGKILL) and
    /// parses the last non-empty line of its standard output as a JSON object. Standard error is
    /// kept for the reason when it fails. `environment` entries are added to this process's.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Double = 600) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return .unavailable("could not start \(executable): \(error.localizedDescription)")
        }
        // Both pipes are drained while it runs so that a chatty anchor cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = DispatchTime.now() + timeout
        if group.wait(timeout: deadline) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return .unavailable("\(URL(fileURLWithPath: executable).lastPathComponent) took longer than \(Int(timeout)) s")
        }
        process.waitUntilExit()
        let stderrTail = String(decoding: errData, as: UTF8.self)
            .split(separator: "\n").suffix(3).joined(separator: " | ")
        guard process.terminationStatus == 0 else {
            return .unavailable("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.first ?? "") exited \(process.terminationStatus): \(stderrTail)")
        }
        let lines = String(decoding: outData, as: UTF8.self).split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
        guard let last = lines.last,
              let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
            return .unavailable("\(URL(fileURLWithPath: executable).lastPathComponent) printed no JSON object on its last line: \(stderrTail)")
        }
        return .ran(object)
    }

    /// The `"anchor"` entry of a benchmark's JSON: `{"name", "available": true, …figures}` or
    /// `{"name", "available": false, "reason"}`.
    public static func report(name: String, _ outcome: Outcome) -> [String: Any] {
        switch outcome {
        case .ran(let figures):
            var entry = figures
            entry["name"] = name
            entry["available"] = true
            return entry
        case .unavailable(let reason):
            return ["name": name, "available": false, "reason": reason]
        }
    }

    /// ours / anchor: for a time < 1 means robotd is faster, for a rate > 1 does (each benchmark
    /// names its ratios so that the reader knows which: "time_ratio_to_anchor", "rate_ratio_to_anchor").
    /// nil when either is missing, not finite or not positive.
    public static func ratio(_ ours: Double?, _ anchor: Double?) -> Double? {
        guard let ours, let anchor, ours > 0, anchor > 0, ours.isFinite, anchor.isFinite else { return nil }
        return ours / anchor
    }
}
