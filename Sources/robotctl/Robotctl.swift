import ArgumentParser
import ControlProtocol
import ControlSocket
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct Robotctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "robotctl",
        abstract: "Control a running robotd over its Unix socket (JSON-RPC 2.0, docs/protocol.md).",
        discussion: """
            Every subcommand takes --socket PATH (default: $ROBOTD_SOCKET, else /run/robotd/robotd.sock \
            if it exists, else ./run/robotd.sock), --json (print the raw result as pretty JSON with sorted \
            keys) and --timeout SECONDS (connect and reply timeout, default 5), before or after the \
            subcommand: robotctl --socket PATH status.

            Exit codes:
              0   ok
              1   call failed: a JSON-RPC error other than -32001, or no reply in time
              64  usage error (bad arguments, unknown subcommand, unusable socket path)
              69  robotd unreachable: no socket file, connection refused, connect
                  timed out, or the connection closed before the reply
              70  protocol error: robotd sent something that is not JSON-RPC 2.0
              77  permission denied: EACCES on connect, or error -32001 (not permitted)

            Shell completions: robotctl --generate-completion-script bash|zsh|fish
            """,
        version: ReleaseVersion.string,
        subcommands: [
            Status.self, Watch.self, Timing.self, Mode.self, Move.self, Calibrate.self, TargetCommand.self, PolicyCommand.self, TeleopCommand.self, ModelCommand.self, Estop.self, Reset.self,
            Config.self, LogLevel.self, Hello.self, Call.self, RecordCommand.self, DatasetCommand.self,
        ]
    )
}

// MARK: - shared options

struct GlobalOptions: ParsableArguments {
    static let defaultSystemSocket = "/run/robotd/robotd.sock"
    static let defaultLocalSocket = "./run/robotd.sock"
    /// Longest --timeout (s): ~11.6 days, far beyond any reply, and safe to convert to Int.
    static let maxTimeout = ControlClient.maxTimeout

    @Option(
        help: ArgumentHelp(
            "robotd's control socket (default: $ROBOTD_SOCKET, else \(defaultSystemSocket) if it exists, else \(defaultLocalSocket)).",
            valueName: "path"),
        completion: .file())
    var socket: String?

    @Flag(help: "Print the raw JSON result (pretty, sorted keys) instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the connection and for each reply.", valueName: "seconds"))
    var timeout: Double = 5

    func validate() throws {
        guard timeout.isFinite, timeout > 0, timeout <= Self.maxTimeout else {
            throw ValidationError("--timeout must be a number of seconds > 0 and ≤ \(Int(Self.maxTimeout)).")
        }
        if let socket, socket.isEmpty { throw ValidationError("--socket must not be empty.") }
    }

    /// The socket to use: --socket, $ROBOTD_SOCKET, the systemd path if it exists, the local default.
    var socketPath: String {
        if let socket { return socket }
        if let env = ProcessInfo.processInfo.environment["ROBOTD_SOCKET"], !env.isEmpty { return env }
        if FileManager.default.fileExists(atPath: Self.defaultSystemSocket) { return Self.defaultSystemSocket }
        return Self.defaultLocalSocket
    }

    /// Connects, runs `body`, and turns a `ControlClientError` into its message on stderr and exit code.
    func withClient<T>(_ body: (ControlClient) throws -> T) throws -> T {
        try reportingErrors { try body(ControlClient(path: socketPath, timeout: timeout)) }
    }

    /// Runs `body`, turning a `ControlClientError` into its message on stderr and exit code.
    func reportingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ControlClientError {
            Output.error(error.message)
            throw ExitCode(error.exitCode)
        }
    }

    /// Calls a file method passing `descriptor` (see `ControlClient.call(_:_:passing:)`) and prints
    /// the result like `callAndPrint`.
    func callAndPrint<R: ControlResult>(_ method: String, _ params: [String: JSONValue], passing descriptor: Int32, as _: R.Type,
                                        text: (R) -> String) throws {
        try withClient { client in
            let result = try client.call(method, params, passing: descriptor)
            Output.line(json ? result.pretty : text(try Self.decode(result, of: method)))
        }
    }

    /// Calls `method` and prints the result: the raw JSON with --json (every key, also those this
    /// robotctl does not know), else `text` of the typed result.
    func callAndPrint<R: ControlResult>(_ method: String, _ params: JSONValue? = nil, as _: R.Type, text: (R) -> String) throws {
        try withClient { client in
            let result = try client.call(method, params)
            Output.line(json ? result.pretty : text(try Self.decode(result, of: method)))
        }
    }

    /// Calls `method` and prints its raw result, with or without --json (`config.get`, `call`).
    func callAndPrintJSON(_ method: String, _ params: JSONValue? = nil) throws {
        let result = try withClient { try $0.call(method, params) }
        Output.line(result.pretty)
    }

    /// `method`'s result as `R`; a result that does not read is robotd's protocol error (exit 70)
    /// naming the member.
    static func decode<R: ControlResult>(_ result: JSONValue, of method: String) throws(ControlClientError) -> R {
        do {
            return try R(json: result, method: method)
        } catch {
            throw .protocolError(error.message)
        }
    }
}

enum Output {
    static func line(_ text: String) {
        print(text)
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Flushes stdout; false if writing failed (e.g. EPIPE when SIGPIPE is ignored and the reader left).
    @discardableResult
    static func flush() -> Bool {
        fflush(nil) == 0
    }
}

// MARK: - commands

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the mode, loop counters, joint states, end effector and recent faults.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.status, as: StatusResult.self, text: Format.status)
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to telemetry and show it live (Ctrl-C to stop).",
        discussion: """
            On a terminal the view is redrawn in place. When stdout is not a terminal, one line per \
            sample is printed: tick=N mode=M q=q1,q2,… (rad, 4 decimals). With --json each \
            notification's params are printed as one JSON line.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Samples per second to ask for (robotd clamps it to its limit).", valueName: "hz"))
    var rate: Int = 10

    @Option(help: ArgumentHelp("Stop after this many samples (default: run until Ctrl-C).", valueName: "n"))
    var count: Int?

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1 Hz.") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1.") }
    }

    func run() throws {
        let terminal = isatty(STDOUT_FILENO) == 1 && !options.json
        // Ctrl-C is the normal way to stop watching: exit 0 (after a newline on a terminal).
        if terminal {
            signal(SIGINT) { _ in
                _ = write(STDOUT_FILENO, "\n", 1)
                _exit(0)
            }
        } else {
            signal(SIGINT) { _ in _exit(0) }
        }
        // A parent may have left SIGINT blocked (the mask survives exec); a handler alone would not see it.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigprocmask(SIG_UNBLOCK, &interrupt, nil)

        try options.withClient { client in
            var names: [String] = []
            if terminal, let hello = try? client.call(ControlMethod.hello), let h = try? HelloResult(json: hello) {
                names = h.jointNames
            }
            let subscription: TelemetrySubscribeResult = try GlobalOptions.decode(
                client.call(ControlMethod.telemetrySubscribe, TelemetrySubscribeParams(rateHz: Double(rate)).json), of: ControlMethod.telemetrySubscribe)
            let effectiveRate = subscription.rateHz
            // Allow a couple of sample periods on top of the reply timeout before giving up.
            let wait = options.timeout + 2.0 / Double(max(effectiveRate, 1))

            var samples = 0
            if terminal { print("\u{1B}[2J", terminator: "") }
            while count.map({ samples < $0 }) ?? true {
                let (method, params) = try client.nextNotification(within: wait, waitingFor: "telemetry")
                guard method == ControlMethod.telemetry else { continue }
                samples += 1
                if options.json {
                    Output.line((params ?? .null).serialized)
                } else {
                    let sample: TelemetrySample = try GlobalOptions.decode(params ?? .null, of: ControlMethod.telemetry)
                    if terminal {
                        let lines = Format.telemetryView(sample, names: names, rateHz: effectiveRate, samples: samples)
                        print("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J",
                              terminator: "")
                    } else {
                        Output.line(Format.telemetryLine(sample))
                    }
                }
                if !Output.flush() {
                    // The reader went away (`robotctl watch | head -3` with SIGPIPE ignored): stop quietly.
                    if errno == EPIPE { throw ExitCode.success }
                    Output.error("robotctl: cannot write to stdout: \(ControlClient.errorText(errno))")
                    throw ExitCode.failure
                }
            }
        }
    }
}

struct Timing: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the control thread's wake latency and compute time percentiles, overruns and scheduler.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.timing, as: TimingResult.self, text: Format.timing)
    }
}

struct Mode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the current mode, or switch to MODE (mode.set).",
        discussion: """
            `robotctl hello` lists the modes this robotd accepts (idle, hold, …).

            idle turns the motors' torque off: an arm that gravity pulls on falls (a 17 kg arm \
            reaches about 8 rad/s). robotd refuses idle while gravity loads a joint at the measured \
            pose; move the arm to a resting pose or support it first, and confirm with --force. To \
            stop the arm, use hold (holds the pose) or estop.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The mode to switch to, e.g. idle or hold. Omit it to print the current mode.")
    var mode: String?

    @Flag(help: "Switch to idle even though the arm will fall (torque off under gravity).")
    var force = false

    func validate() throws {
        if force, mode != "idle" { throw ValidationError("--force only applies to `robotctl mode idle`") }
    }

    func run() throws {
        if let mode {
            try options.callAndPrint(ControlMethod.modeSet, ModeSetParams(mode: mode, force: force).json, as: ModeResult.self) { "mode: \($0.mode)" }
            return
        }
        let status: StatusResult = try options.withClient { try GlobalOptions.decode($0.call(ControlMethod.status), of: ControlMethod.status) }
        if options.json {
            Output.line(JSONValue.object(["mode": .string(status.mode), "fault": status.fault.map { .string($0) } ?? .null]).pretty)
        } else if let fault = status.fault {
            Output.line("\(status.mode) (fault: \(fault))")
        } else {
            Output.line(status.mode)
        }
    }
}

struct Move: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move the joints to a target (minimum-jerk in joint space, then hold).",
        usage: """
            robotctl move [<options>] -- <q1> <q2> … [--duration <seconds>]
            robotctl move [<options>] <q1>,<q2>,… [--duration <seconds>]
            """,
        discussion: """
            Give one target per joint in radians, either as separate numbers or as one comma-separated \
            list. A negative number can look like an option, so the safe forms are `--` before separate \
            numbers, or the comma form (options may still follow the numbers in both):
              robotctl move -- 0 -1.2 1 0 0 0 --duration 2
              robotctl move 0,-1.2,1,0,0,0 --duration 2
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp(
        "Duration in seconds (> 0; default: robotd chooses it from control.max_move_velocity).",
        valueName: "seconds"))
    var duration: Double?

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Joint targets in rad.", valueName: "q"))
    var targets: [String] = []

    struct Target {
        var q: [Double]
        var duration: Double?
        /// The global options, with any given after `--` applied.
        var options: GlobalOptions

        var params: JSONValue { MoveParams(q: q, duration: duration).json }
    }

    /// Reads the captured words: numbers and comma-separated lists of numbers, plus the options
    /// that land here when they follow `--` (--duration, --socket, --timeout, --json).
    static func parse(_ words: [String], duration optionDuration: Double?, options: GlobalOptions) throws -> Target {
        var q: [Double] = []
        var duration = optionDuration
        var options = options

        var index = 0
        /// The value of `--name value` or `--name=value` if `word` is that option, else nil.
        func value(of name: String, _ word: String) throws -> String? {
            if word == name {
                guard index < words.count else { throw ValidationError("\(name) needs a value.") }
                index += 1
                return words[index - 1]
            }
            if word.hasPrefix(name + "=") { return String(word.dropFirst(name.count + 1)) }
            return nil
        }

        while index < words.count {
            let word = words[index]
            index += 1
            if word == "--" { continue }
            if word == "--json" {
                options.json = true
                continue
            }
            if let text = try value(of: "--duration", word) {
                guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--duration: '\(text)' is not a number of seconds.")
                }
                guard duration == nil else { throw ValidationError("--duration given more than once.") }
                duration = seconds
                continue
            }
            if let text = try value(of: "--timeout", word) {
                guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--timeout: '\(text)' is not a number of seconds.")
                }
                options.timeout = seconds
                try options.validate()
                continue
            }
            if let path = try value(of: "--socket", word) {
                options.socket = path
                try options.validate()
                continue
            }
            for piece in word.split(separator: ",", omittingEmptySubsequences: false) {
                let text = piece.trimmingCharacters(in: .whitespaces)
                guard let value = Double(text), value.isFinite else {
                    if word.hasPrefix("-"), Double(word) == nil, !word.contains(",") {
                        throw ValidationError("Unexpected option '\(word)' among the joint targets.")
                    }
                    throw ValidationError("'\(text)' in '\(word)' is not a joint target in rad.")
                }
                q.append(value)
            }
        }
        guard !q.isEmpty else {
            throw ValidationError("Give the joint targets in rad, e.g. `robotctl move -- 0 -1.2 1 0 0 0` or `robotctl move 0,-1.2,1,0,0,0`.")
        }
        if let duration {
            guard duration.isFinite, duration > 0 else { throw ValidationError("--duration must be > 0 seconds.") }
        }
        return Target(q: q, duration: duration, options: options)
    }

    func validate() throws {
        _ = try Self.parse(targets, duration: duration, options: options)
    }

    func run() throws {
        let target = try Self.parse(targets, duration: duration, options: options)
        try target.options.callAndPrint(ControlMethod.move, target.params, as: MoveResult.self) { r in
            let seconds = r.durationS.map { Format.fixed($0, 3) + " s" } ?? "chosen by robotd"
            return "move \(r.accepted ? "accepted" : "not accepted"): mode \(r.mode), duration \(seconds)"
        }
    }
}

struct TargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Set the MPC target: an end-effector position (m) or joint positions (rad).",
        usage: """
            robotctl target [--go] [--orientation w,x,y,z] [--duration S] X,Y,Z
            robotctl target [--go] --joints [--duration S] Q1,Q2,…
            robotctl target [--go] --path FILE --period S
            robotctl target --clear
            """,
        discussion: """
            The planner re-plans towards the target at mpc.rate_hz; the arm follows it in mode mpc \
            (--go switches to it once the target is accepted). Positions are in the base frame; a target \
            outside the arm's reach is refused. With --duration the approach is spread over that time. \
            --path FILE gives a closed end-effector path to trace once per --period seconds, again and \
            again: one waypoint X,Y,Z (m) per line (blank lines and lines starting with # are skipped).
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Also switch to mode mpc.") var go = false
    @Flag(help: "The numbers are joint positions (rad), not a position.") var joints = false
    @Flag(help: "Withdraw the target (the plan stops; mpc falls back to hold).") var clear = false
    @Option(help: ArgumentHelp("Orientation as a unit quaternion w,x,y,z.", valueName: "w,x,y,z")) var orientation: String?
    @Option(help: ArgumentHelp("Seconds to spread the approach over.", valueName: "seconds")) var duration: Double?
    @Option(help: ArgumentHelp("A closed path: a file of X,Y,Z waypoints (m), one per line.", valueName: "file")) var path: String?
    @Option(help: ArgumentHelp("Seconds per lap of --path.", valueName: "seconds")) var period: Double?
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("X,Y,Z in m (or joint positions with --joints).", valueName: "numbers"))
    var numbers: [String] = []

    /// The waypoints of a path file: `X,Y,Z` per line; errors name the file and line.
    static func waypoints(file: String) throws -> [[Double]] {
        // Not String(contentsOfFile:): it blocks for ever on a FIFO, reads /dev/zero until memory
        // runs out, and says "NSCocoaErrorDomain error 256" instead of what was wrong.
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ValidationError("--path: cannot read \(file): \(ControlClient.errorText(errno))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw ValidationError("--path: \(file) is \(LocalFile.kind(st.st_mode)), not a regular file")
        }
        // 10 000 waypoints (the protocol's maximum) take well under 1 MiB as text.
        let maxBytes = 16 << 20
        guard Int(st.st_size) <= maxBytes else {
            throw ValidationError("--path: \(file) is \(st.st_size) bytes, over the \(maxBytes)-byte limit for a waypoint file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return read(fd, base + done, b.count - done)
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw ValidationError("--path: cannot read \(file): \(n < 0 ? ControlClient.errorText(errno) : "it shrank while being read")") }
            done += n
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError("--path: \(file) is not UTF-8 text")
        }
        var points: [[Double]] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let xyz = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard xyz.count == 3, xyz.allSatisfy({ $0?.isFinite == true }) else {
                throw ValidationError("--path: \(file):\(i + 1): expected X,Y,Z (three numbers, m), got \"\(line)\"")
            }
            points.append(xyz.compactMap { $0 })
        }
        return points
    }

    func params() throws -> JSONValue {
        if let path {
            guard numbers.isEmpty, !joints, orientation == nil, duration == nil else {
                throw ValidationError("--path takes no numbers, --joints, --orientation or --duration.")
            }
            guard let period else { throw ValidationError("--path needs --period (seconds per lap).") }
            return TargetSetParams(target: .path(waypoints: try Self.waypoints(file: path), period: period)).json
        }
        if period != nil { throw ValidationError("--period applies to --path.") }
        let parsed = try Move.parse(numbers, duration: duration, options: options)
        let target: TargetSetParams.Target
        if joints {
            target = .joints(parsed.q)
        } else {
            guard parsed.q.count == 3 else { throw ValidationError("A position target is X,Y,Z (3 numbers, m); use --joints for joint positions.") }
            var w: [Double]?
            if let orientation {
                w = orientation.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard w?.count == 4 else { throw ValidationError("--orientation is a quaternion w,x,y,z (4 numbers).") }
            }
            target = .pose(position: parsed.q, orientation: w)
        }
        return TargetSetParams(target: target, duration: parsed.duration).json
    }

    func validate() throws {
        if clear {
            guard numbers.isEmpty, !go, path == nil else { throw ValidationError("--clear takes no target and no --go.") }
            return
        }
        if orientation != nil, joints { throw ValidationError("--orientation applies to position targets only.") }
        _ = try params()
    }

    func run() throws {
        if clear {
            try options.withClient { client in
                let result = try client.call(ControlMethod.targetClear)
                Output.line(options.json ? result.pretty : "target cleared")
            }
            return
        }
        let p = try params()
        try options.callAndPrint(ControlMethod.targetSet, p, as: TargetSetResult.self) { "target accepted (mode \($0.mode))" }
        if go {
            // The planner needs one re-plan before the loop accepts mpc: retry briefly, quietly.
            for _ in 0 ..< 20 {
                if let client = try? ControlClient(path: options.socketPath, timeout: options.timeout),
                   let result = try? client.call(ControlMethod.modeSet, ModeSetParams(mode: "mpc").json) {
                    let mode: ModeResult = try options.reportingErrors { try GlobalOptions.decode(result, of: ControlMethod.modeSet) }
                    Output.line(options.json ? result.pretty : "mode: \(mode.mode)")
                    return
                }
                usleep(50_000)
            }
            try options.callAndPrint(ControlMethod.modeSet, ModeSetParams(mode: "mpc").json, as: ModeResult.self) { "mode: \($0.mode)" }
        }
    }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Load a learned policy (safetensors MLP, docs/models.md) and optionally run it.",
        discussion: """
            robotctl opens the file as the calling user and passes it to the daemon over the socket, \
            so any file you can read works (the daemon itself may not see your home directory). The \
            daemon checks its shape and robot before anything changes; --go then switches to mode policy.
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Also switch to mode policy.") var go = false
    @Argument(help: ArgumentHelp("The policy file (.safetensors).", valueName: "path"), completion: .file(extensions: ["safetensors"]))
    var path: String

    func run() throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let file = try LocalFile.openForReading(absolute)
        defer { close(file) }
        try options.callAndPrint(ControlMethod.policyLoad, ["name": .string(absolute)], passing: file, as: PolicyLoadResult.self) { r in
            "policy loaded: \(r.loaded) (\(r.widths.map(String.init).joined(separator: "-")), \(r.activation))"
        }
        if go {
            try options.callAndPrint(ControlMethod.modeSet, ModeSetParams(mode: "policy").json, as: ModeResult.self) { "mode: \($0.mode)" }
        }
    }
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "The learned dynamics model: status, train now, rollback, reset, save or load a file (learning.enabled).",
        discussion: """
            save and load open the file here, as the calling user, and pass it to the daemon over the \
            socket: load reads any file you can read; save writes a new file next to the target and \
            renames it over the target once the daemon has written it (only a regular file is ever \
            replaced). load checks the file against the running robot and queues it as the next version.
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case status, train, rollback, reset, save, load
    }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "status (default), train, rollback, reset, save PATH or load PATH.") var action: Action = .status
    @Argument(help: ArgumentHelp("The model file for save and load (.safetensors).", valueName: "path"),
              completion: .file(extensions: ["safetensors"]))
    var path: String?

    func validate() throws {
        switch action {
        case .save, .load:
            guard path != nil else { throw ValidationError("robotctl model \(action.rawValue): give the model file's path") }
        default:
            guard path == nil else { throw ValidationError("robotctl model \(action.rawValue) takes no path (only save and load do)") }
        }
    }

    func run() throws {
        switch action {
        case .status:
            try options.callAndPrint(ControlMethod.modelStatus, as: ModelStatus.self, text: Format.model)
        case .train, .rollback, .reset:
            try options.withClient { client in
                let result = try client.call("model.\(action.rawValue)")
                Output.line(options.json ? result.pretty : "\(action.rawValue) requested (see robotctl model status)")
            }
        case .save, .load:
            let given = path ?? ""
            let absolute = given.hasPrefix("/") ? given : FileManager.default.currentDirectoryPath + "/" + given
            if action == .load {
                let file = try LocalFile.openForReading(absolute)
                defer { close(file) }
                try options.callAndPrint(ControlMethod.modelLoad, ["name": .string(absolute)], passing: file, as: ModelLoadResult.self) { r in
                    "loaded \(r.loaded) (\(r.members) members; the planner adopts it at its next re-plan)"
                }
            } else {
                let temporary = try LocalFile.createTemporary(next: absolute)
                do {
                    try options.callAndPrint(ControlMethod.modelSave, ["name": .string(absolute)], passing: temporary.descriptor,
                                             as: ModelSaveResult.self) { r in
                        "saved version \(r.version) (\(r.members) members) to \(r.saved)"
                    }
                    try LocalFile.commit(temporary, to: absolute)
                } catch {
                    close(temporary.descriptor)
                    unlink(temporary.path)
                    throw error
                }
            }
        }
    }
}

struct Estop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Latch the emergency stop: hold where it is and refuse motion until `reset`.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.estop, as: ModeResult.self) { "mode: \($0.mode)" }
    }
}

struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave faulted or estop for hold at the measured pose.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.reset, as: ModeResult.self) { "mode: \($0.mode)" }
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the effective configuration (config.get) as JSON.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrintJSON(ControlMethod.configGet)
    }
}

struct LogLevel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-level",
        abstract: "Set robotd's log level until it restarts (log.setLevel).")

    enum Level: String, CaseIterable, ExpressibleByArgument {
        case trace, debug, info, notice, warning, error, critical
    }

    @OptionGroup var options: GlobalOptions

    @Argument(help: "trace, debug, info, notice, warning, error or critical.")
    var level: Level

    func run() throws {
        try options.callAndPrint(ControlMethod.logSetLevel, LogSetLevelParams(level: level.rawValue).json, as: LogSetLevelResult.self) { r in
            "log level: \(r.level) (was \(r.previous))"
        }
    }
}

struct Hello: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon's version, protocol, robot, degrees of freedom and your role.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.hello, as: HelloResult.self, text: Format.hello)
    }
}

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call any method and print its result as JSON.",
        discussion: """
            Example: robotctl call log.setLevel '{"level": "debug"}'
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The method, e.g. status or telemetry.unsubscribe.")
    var method: String

    @Argument(help: ArgumentHelp("Params as a JSON object or array.", valueName: "params-json"))
    var params: String?

    static func parseParams(_ text: String?) throws -> JSONValue? {
        guard let text else { return nil }
        guard let value = try? JSONValue.parse(text) else {
            throw ValidationError("params are not valid JSON: \(text)")
        }
        guard value.objectValue != nil || value.arrayValue != nil else {
            throw ValidationError("params must be a JSON object or array, not \(text)")
        }
        return value
    }

    func validate() throws {
        guard !method.isEmpty else { throw ValidationError("The method name must not be empty.") }
        _ = try Self.parseParams(params)
    }

    func run() throws {
        try options.callAndPrintJSON(method, Self.parseParams(params))
    }
}

/// Files `robotctl` opens for the daemon, as the calling user (docs/protocol.md, "Files").
/// Errors print here and exit 1, as a failed call does.
enum LocalFile {
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    private static func fail(_ text: String, _ code: Int32) -> ExitCode {
        Output.error("robotctl: " + text)
        return ExitCode(code)
    }

    /// O_RDONLY | O_CLOEXEC, and O_NONBLOCK so that a FIFO cannot hang robotctl; the daemon
    /// refuses anything but a regular file anyway.
    static func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw fail("cannot read \(path): \(ControlClient.errorText(errno))", 1) }
        var st = stat()
        if fstat(fd, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            close(fd)
            throw fail("\(path) is \(kind(st.st_mode)), not a regular file", 1)
        }
        return fd
    }

    /// A new file next to `target` (O_CREAT | O_EXCL, mode 0644 less the umask), after checking
    /// that `target`, if it exists, is a regular file (following a symlink: a link to a FIFO
    /// or a device is refused too).
    static func createTemporary(next target: String) throws -> (descriptor: Int32, path: String) {
        var st = stat()
        if stat(target, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            throw fail("cannot save to \(target): it is \(kind(st.st_mode)); only a regular file is replaced", 1)
        }
        let directory = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        for _ in 0 ..< 16 {
            let path = (directory.isEmpty ? "." : directory) + "/.\(base).robotctl-\(getpid())-\(UInt32.random(in: 0 ... .max))"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { return (fd, path) }
            if errno != EEXIST { throw fail("cannot save to \(target): cannot create a file in \(directory): \(ControlClient.errorText(errno))", 1) }
        }
        throw fail("cannot save to \(target): no unused temporary name in \(directory)", 1)
    }

    /// fsync and rename the written temporary file over the target.
    static func commit(_ temporary: (descriptor: Int32, path: String), to target: String) throws {
        defer { close(temporary.descriptor) }
        guard fsync(temporary.descriptor) == 0 else { throw fail("cannot save to \(target): fsync: \(ControlClient.errorText(errno))", 1) }
        guard rename(temporary.path, target) == 0 else { throw fail("cannot save to \(target): rename: \(ControlClient.errorText(errno))", 1) }
    }
}
