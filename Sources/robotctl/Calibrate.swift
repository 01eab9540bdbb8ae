import ArgumentParser
import ControlProtocol
import ControlSocket
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `robotctl calibrate`: the procedure of `robotd calibrate` against a running daemon in `idle`
/// (`calibration.*`, docs/servo-buses.md §6): Enter after the zero pose, live ranges while the
/// person sweeps each joint, Enter to finish. End of input or Ctrl-D cancels (the servos get
/// their previous registers back).
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calibrate the daemon's servo arm (homing offsets and ranges) by hand, in idle.",
        discussion: """
            The daemon must be in idle (torque off) and drive a servo-bus arm. Step 1: put the arm in its \
            zero pose and press Enter. Step 2: move every joint through its full range (the ranges print \
            as they grow) and press Enter. The daemon writes the servos' EEPROM and \
            <data_directory>/calibration/<arm_id>.json, and prints its path and SHA-256. Closing input \
            cancels. --cancel abandons a calibration left running by another client.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(parsing: .singleValue, help: "A joint whose servo counts against the URDF angle: drive mode 1 (repeatable).") var reverse: [String] = []
    @Option(name: .customLong("full-turn"), parsing: .singleValue, help: "A joint without end stops: range 0…4095 (repeatable; default wrist_roll).") var fullTurn: [String] = []
    @Flag(help: "Cancel a calibration in progress and exit.") var cancel = false

    func run() throws {
        try options.withClient { client in
            if cancel {
                _ = try client.call(ControlMethod.calibrationCancel)
                say("calibration cancelled")
                return
            }
            let input = LineReader()
            let params = CalibrationStartParams(reverse: reverse, fullTurn: fullTurn.isEmpty ? nil : fullTurn)
            let started: CalibrationStatusResult = try GlobalOptions.decode(try client.call(ControlMethod.calibrationStart, params.json),
                                                                           of: ControlMethod.calibrationStart)
            say("robotctl calibrate: arm \(started.arm ?? "?"): torque is off on every servo: support the arm.")
            say("Step 1 of 2: put the arm in its zero pose (the robot README's; every joint near the middle of its travel), then press Enter.")
            guard input.next() != nil else { try cancelled(client) }
            _ = try client.call(ControlMethod.calibrationZero)
            say("Homing offsets written: the zero pose reads 2047.")
            let turning = started.joints.filter(\.fullTurn).map(\.joint)
            say("Step 2 of 2: move every joint through its full range, end to end\(turning.isEmpty ? "" : " (\(turning.joined(separator: ", ")) turns fully: no need)"), then press Enter.")
            let interactive = isatty(STDOUT_FILENO) == 1
            var shown = ""
            while true {
                if let line = input.poll() {
                    guard line != nil else { try cancelled(client) }
                    do {
                        let done: CalibrationFinishResult = try GlobalOptions.decode(try client.call(ControlMethod.calibrationFinish),
                                                                                    of: ControlMethod.calibrationFinish)
                        if interactive { write("\n") }
                        for j in done.joints {
                            say("  \(j.joint.padding(toLength: 14, withPad: " ", startingAt: 0)) id \(j.id)  drive mode \(j.driveMode)  homing offset \(j.homingOffset)  range \(j.rangeMin)…\(j.rangeMax) (\(String(format: "%.2f", j.lower))…\(String(format: "%.2f", j.upper)) rad)")
                        }
                        say("wrote \(done.file)")
                        say("sha256 \(done.sha256)")
                        if done.restartRequired { say("restart robotd before enabling torque: the loop's joint limits follow the new ranges after a restart") }
                        return
                    } catch let error as ControlClientError {
                        guard case let .rpc(_, e) = error, e.code == .wrongMode, case .object(let data)? = e.data, data["unmoved"] != nil else { throw error }
                        if interactive { write("\n") }
                        say("\(e.message). Keep moving, then press Enter again.")
                    }
                }
                let s: CalibrationStatusResult = try GlobalOptions.decode(try client.call(ControlMethod.calibrationStatus), of: ControlMethod.calibrationStatus)
                let line = "ranges: " + s.joints.map { "\($0.joint) \($0.min)…\($0.max)" }.joined(separator: ", ")
                if line != shown {
                    shown = line
                    if interactive { write("\r" + line) } else { say(line) }
                }
                usleep(50_000)
            }
        }
    }

    /// A line, written at once (a person or a test waits on it), past stdio: flushing stdio
    /// (`fflush(NULL)`) would wait for stdin's lock, held by `LineReader`'s blocked read.
    func say(_ line: String) { write(line + "\n") }

    func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    func cancelled(_ client: ControlClient) throws -> Never {
        _ = try? client.call(ControlMethod.calibrationCancel)
        Output.error("standard input closed: calibration cancelled, the servos hold their previous registers")
        throw ExitCode(1)
    }
}

/// Standard input's lines, read on a thread so the main thread can poll the daemon meanwhile;
/// nil in the queue is end of input.
final class LineReader: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [String?] = []
    private let ready = DispatchSemaphore(value: 0)

    init() {
        Thread { [self] in
            while true {
                let line = readLine()
                lock.withLock { queue.append(line) }
                ready.signal()
                if line == nil { return }
            }
        }.start()
    }

    /// Waits for the next line (nil: end of input).
    func next() -> String? {
        ready.wait()
        return lock.withLock { queue.removeFirst() }
    }

    /// The next line if one arrived (`.some(nil)`: end of input), else nil.
    func poll() -> String?? {
        guard ready.wait(timeout: .now()) == .success else { return nil }
        return .some(lock.withLock { queue.removeFirst() })
    }
}
