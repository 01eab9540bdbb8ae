import ArgumentParser
import Foundation
import Platform
import ServoBus

/// `robotd emulate`: an arm's servo bus on a pseudo-terminal, for drivers, tools and the
/// vendors' SDKs to talk to without hardware. The assembly lives in ServoBus (`EmulatedArm`);
/// this is argument parsing only.
struct EmulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Emulate an arm's servo bus on a pseudo-terminal (so101: Feetech STS3215, koch: Dynamixel X).",
        discussion: """
            Opens a pseudo-terminal, links it at --link (default ./run/<arm>.tty) and answers as the arm's \
            servos (ids 1–6) until SIGINT or SIGTERM, then removes the link. The joints move by the \
            simulated arm's physics on its URDF. Replies are paced at --baud (10 bits per byte). \
            The servos start at the arm's rate (1000000) and answer only a client set to their \
            Baud_Rate, read from the pseudo-terminal's settings. \
            Fault options take a probability per request (0…1) and, where a size is needed, a value \
            after a colon: --delay 0.1:0.005 delays one reply in ten by 5 ms. See docs/servo-buses.md.
            """
    )

    @Option(help: "The arm: \(EmulatedArmProfile.all.map(\.name).joined(separator: ", ")).") var arm: String
    @Option(help: "Where to link the pseudo-terminal (default ./run/<arm>.tty).") var link: String?
    @Option(parsing: .unconditional, help: "Line rate the replies are paced at (bit/s; default the arm's); 0 disables pacing.") var baud: Int?
    @Option(help: "The arm's URDF (default hardware/robots/<arm>/robot.urdf).") var urdf: String?
    @Option(parsing: .unconditional, help: "Probability of leaving a request unanswered.") var drop = 0.0
    @Option(parsing: .unconditional, help: "Probability of corrupting a reply's CRC/checksum.") var corrupt = 0.0
    @Option(parsing: .unconditional, help: "P:SECONDS: probability and length of a delayed reply (the bus waits).") var delay: ProbabilityAndValue?
    @Option(parsing: .unconditional, help: "P:SECONDS: probability and lateness of a stale reply (arrives after the client gave up).") var stale: ProbabilityAndValue?
    @Option(parsing: .unconditional, help: "P:COUNT: probability and number of garbage bytes before a reply.") var garbage: ProbabilityAndValue?
    @Option(parsing: .singleValue, help: "A servo id that never answers (repeatable).") var silentServo: [Int] = []
    @Option(help: "ID or ID@N: a servo that overloads (after N requests; default at once): error bit, torque off (repeatable).") var overloadServo: [ServoTrip] = []
    @Option(help: "ID or ID@N: a servo that overheats (after N requests): error bit, temperature above its limit, torque off (repeatable).") var overheatServo: [ServoTrip] = []
    @Option(parsing: .unconditional, help: "The port vanishes (as an unplugged adapter) instead of answering request N+1.") var vanishAfter: Int?
    @Option(parsing: .unconditional, help: "Seed of the random faults and garbage bytes.") var seed: UInt64 = 0x5EED
    @Flag(help: "Echo every received byte back, as a one-wire adapter that hears itself.") var echo = false
    @Option(help: .hidden) var recordRequests: String?
    /// A person's hand for tests of calibration: stdin lines `move JOINT RAD` / `release JOINT`.
    @Flag(help: .hidden) var hand = false
    /// A servo mounted the other way round (counts grow against the URDF angle; repeatable).
    @Option(parsing: .singleValue, help: .hidden) var reversedServo: [Int] = []

    func validate() throws {
        guard EmulatedArmProfile.named(arm) != nil else {
            throw ValidationError("--arm \(arm) is not emulated; choose one of \(EmulatedArmProfile.all.map(\.name).joined(separator: ", "))")
        }
        if let baud { guard baud >= 0, baud <= 10_000_000 else { throw ValidationError("--baud must be in 0…10000000") } }
        for (name, p) in [("--drop", drop), ("--corrupt", corrupt), ("--delay", delay?.probability ?? 0),
                          ("--stale", stale?.probability ?? 0), ("--garbage", garbage?.probability ?? 0)] {
            guard p >= 0, p <= 1 else { throw ValidationError("\(name): the probability must be in 0…1, not \(p)") }
        }
        for (name, v) in [("--delay", delay?.value ?? 0), ("--stale", stale?.value ?? 0)] {
            guard v >= 0, v <= 10 else { throw ValidationError("\(name): the seconds must be in 0…10, not \(v)") }
        }
        if let g = garbage { guard g.value >= 1, g.value <= 4096, g.value == g.value.rounded() else { throw ValidationError("--garbage: the count must be a whole number in 1…4096") } }
        for id in silentServo { guard (0...253).contains(id) else { throw ValidationError("--silent-servo \(id): ids are 0…253") } }
        for id in reversedServo { guard (0...253).contains(id) else { throw ValidationError("--reversed-servo \(id): ids are 0…253") } }
        if let n = vanishAfter { guard n >= 0 else { throw ValidationError("--vanish-after must be ≥ 0") } }
    }

    func run() throws {
        let profile = EmulatedArmProfile.named(arm)!
        let model = try RobotLoading.load(urdfPath: urdf ?? "hardware/robots/\(arm)/robot.urdf")
        var options = EmulatedArmOptions()
        for t in overloadServo { options.overload[t.id] = t.afterRequests }
        for t in overheatServo { options.overheat[t.id] = t.afterRequests }
        options.recordRequestsPath = recordRequests
        options.reversedServos = Set(reversedServo.map { UInt8($0) })
        var faults = FaultPlan()
        faults.seed = seed
        if drop > 0 { faults.random.append(.init(.dropReply, probability: drop)) }
        if corrupt > 0 { faults.random.append(.init(.corruptChecksum, probability: corrupt)) }
        if let d = delay, d.probability > 0 { faults.random.append(.init(.delay(seconds: d.value), probability: d.probability)) }
        if let s = stale, s.probability > 0 { faults.random.append(.init(.staleReply(seconds: s.value), probability: s.probability)) }
        if let g = garbage, g.probability > 0 { faults.random.append(.init(.garbage(count: Int(g.value)), probability: g.probability)) }
        faults.silentServos = Set(silentServo.map { UInt8($0) })
        if let n = vanishAfter { faults.scripted[n + 1] = .vanish }
        let linkPath = link ?? EmulatorHostConfiguration.defaultLinkPath(arm: arm)
        let configuration = EmulatorHostConfiguration(linkPath: linkPath, baud: baud ?? profile.baud, faults: faults, echoesRequests: echo)

        let stop = DispatchSemaphore(value: 0)
        let watcher = SignalWatcher.install { signal in
            if signal != SIGHUP { stop.signal() }
        }
        let host: EmulatorHost<EmulatedArm>
        do {
            host = try EmulatedArm.serve(profile: profile, model: model, options: options, host: configuration)
        } catch {
            throw CLIError("\(error)")
        }
        FileHandle.standardError.write(Data("robotd emulate: \(EmulatedArm.summary(profile)) at \(configuration.baud) baud on \(linkPath) (\(host.slavePath))\n".utf8))
        if hand { Self.startHand(host) }
        stop.wait()
        host.stop()
        let s = host.statistics
        FileHandle.standardError.write(Data("robotd emulate: stopped after \(s.requests) requests (\(s.faultsInjected) faults injected); \(linkPath) removed\n".utf8))
        withExtendedLifetime(watcher) {}
    }
}

extension EmulateCommand {
    /// Reads `move JOINT RAD` and `release JOINT` lines from stdin on a thread of its own and
    /// answers each on stdout with `ok …` or `error: …` (JOINT: a URDF joint name or its index).
    /// The hand moves only limp joints and holds them at rest where it put them.
    static func startHand(_ host: EmulatorHost<EmulatedArm>) {
        let thread = Thread {
            while let line = readLine() {
                let words = line.split(separator: " ").map(String.init)
                let reply: String
                switch (words.first, words.count) {
                case ("move", 3):
                    guard let angle = Double(words[2]), angle.isFinite else { reply = "error: \(words[2]) is not an angle in rad"; break }
                    let joint = words[1]
                    let r = host.withResponder { (arm: inout EmulatedArm) -> String in
                        do throws(EmulatedArmError) {
                            let name = try arm.placeByHand(joint: joint, angle: angle, atNanoseconds: MonotonicClock.now())
                            return "ok move \(name) \(angle)"
                        } catch { return "error: \(error)" }
                    }
                    reply = r ?? "error: the emulator has stopped"
                case ("release", 2):
                    let joint = words[1]
                    let r = host.withResponder { (arm: inout EmulatedArm) -> String in
                        do throws(EmulatedArmError) { return "ok release \(try arm.releaseByHand(joint: joint))" } catch { return "error: \(error)" }
                    }
                    reply = r ?? "error: the emulator has stopped"
                case (nil, _): continue
                default: reply = "error: expected `move JOINT RAD` or `release JOINT`, not \"\(line)\""
                }
                FileHandle.standardOutput.write(Data((reply + "\n").utf8))
            }
        }
        thread.start()
    }
}

/// `P:VALUE`, a probability and a size (seconds or a count).
struct ProbabilityAndValue: ExpressibleByArgument {
    var probability: Double
    var value: Double
    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let p = Double(parts[0]), let v = Double(parts[1]), p.isFinite, v.isFinite else { return nil }
        probability = p
        value = v
    }
}

/// `ID` or `ID@N`: a servo and the request count after which its fault trips.
struct ServoTrip: ExpressibleByArgument {
    var id: UInt8
    var afterRequests: Int
    init?(argument: String) {
        let parts = argument.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2, let id = UInt8(parts[0]), id <= 253 else { return nil }
        self.id = id
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0 else { return nil }
            afterRequests = n
        } else {
            afterRequests = 0
        }
    }
}
