import ArgumentParser
import ControlProtocol
import ControlSocket
import Foundation

struct TeleopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teleop",
        abstract: "Drive the arm yourself: stream targets in mode teleop, take over from a policy or MPC and hand back.",
        discussion: """
            Mode teleop follows the newest streamed target and holds where it is when none is fresher \
            than teleop.timeout (configs/README.md). Enter it with `robotctl mode teleop`, or from policy \
            or mpc with `robotctl teleop takeover` (ticks until `robotctl teleop handback` are recorded as \
            interventions). scripts/teleop-keyboard.py streams from the keyboard.
            """,
        subcommands: [TeleopStream.self, TeleopTakeover.self, TeleopHandback.self])
}

struct TeleopStream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Send a teleop target: an end-effector position (m) or joint positions (rad).",
        usage: """
            robotctl teleop stream [--orientation w,x,y,z] [--for S] [--rate HZ] X,Y,Z
            robotctl teleop stream --joints [--for S] [--rate HZ] Q1,Q2,…
            """,
        discussion: """
            One target, sent once, or --rate times a second for --for seconds (a target older than \
            teleop.timeout is stale and the arm holds). A position goes through the daemon's inverse \
            kinematics; a position outside the arm's reach or a joint target outside the limits is refused.
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "The numbers are joint positions (rad), not a position.") var joints = false
    @Option(help: ArgumentHelp("Orientation as a unit quaternion w,x,y,z.", valueName: "w,x,y,z")) var orientation: String?
    @Option(name: .customLong("for"), help: ArgumentHelp("Keep sending the target for this many seconds.", valueName: "seconds"))
    var seconds: Double?
    @Option(help: ArgumentHelp("Sends per second with --for (1…1000).", valueName: "hz")) var rate: Double = 50
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("X,Y,Z in m (or joint positions with --joints).", valueName: "numbers"))
    var numbers: [String] = []

    func params() throws -> (JSONValue, GlobalOptions) {
        let parsed = try Move.parse(numbers, duration: nil, options: options)
        if joints {
            guard orientation == nil else { throw ValidationError("--orientation applies to position targets only.") }
            return (TeleopStreamParams(target: .joints(parsed.q)).json, parsed.options)
        }
        guard parsed.q.count == 3 else { throw ValidationError("A position target is X,Y,Z (3 numbers, m); use --joints for joint positions.") }
        var w: [Double]?
        if let orientation {
            w = orientation.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard w?.count == 4 else { throw ValidationError("--orientation is a quaternion w,x,y,z (4 numbers).") }
        }
        return (TeleopStreamParams(target: .pose(position: parsed.q, orientation: w)).json, parsed.options)
    }

    func validate() throws {
        _ = try params()
        if let seconds { guard seconds.isFinite, seconds > 0, seconds <= 86_400 else { throw ValidationError("--for must be in (0, 86400] seconds.") } }
        guard rate.isFinite, rate >= 1, rate <= 1000 else { throw ValidationError("--rate must be in [1, 1000] per second.") }
    }

    /// Monotonic seconds (`CLOCK_MONOTONIC`).
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    func run() throws {
        let (p, options) = try params()
        try options.withClient { client in
            let start = Self.now()
            var sent = 0
            var last = JSONValue.null
            repeat {
                last = try client.call(ControlMethod.teleopStream, p)
                sent += 1
                guard let seconds else { break }
                let next = start + Double(sent) / rate
                if next - start >= seconds { break }
                let wait = next - Self.now()
                if wait > 0 { usleep(UInt32(wait * 1e6)) }
            } while true
            if options.json {
                Output.line(last.pretty)
                return
            }
            let r: TeleopStreamResult = try GlobalOptions.decode(last, of: ControlMethod.teleopStream)
            var text = "target \(r.sequence) sent (mode \(r.mode)): q = \(r.q.map { Format.fixed($0, 4) }.joined(separator: ", "))"
            if let e = r.positionErrorM { text += "; position error \(Format.fixed(e * 1000, 2)) mm" }
            if let e = r.orientationErrorRad { text += ", orientation error \(Format.fixed(e, 4)) rad" }
            if sent > 1 { text += " (\(sent) sends)" }
            if r.mode != "teleop" { text += "\nthe arm follows in mode teleop: robotctl mode teleop, or robotctl teleop takeover from policy or mpc" }
            Output.line(text)
        }
    }
}

struct TeleopTakeover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "takeover",
        abstract: "Take the arm from policy or mpc into teleop (it holds until you stream); handback returns to that mode.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.teleopTakeover, as: TeleopSwitchResult.self) { "mode: \($0.mode) (taken over from \($0.from))" }
    }
}

struct TeleopHandback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handback",
        abstract: "Hand the arm back from teleop to the mode teleop takeover took it from.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try options.callAndPrint(ControlMethod.teleopHandback, as: TeleopSwitchResult.self) { "mode: \($0.mode) (handed back from \($0.from))" }
    }
}
