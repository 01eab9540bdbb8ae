import ArgumentParser
import Foundation
import LinearAlgebra
import RigidBody
import RobotInterface
import SimulationDriver

/// A short rollout of the simulated arm, printed as a table (or JSON lines): the stand-in for
/// `make run` until the daemon exists.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the simulated arm for a few seconds and print its state.",
        discussion: """
            Modes: hold (position servo holding the start pose, gravity fed forward), move (position \
            servo to --target), passive (actuators off: the arm falls under gravity, damping and \
            friction), gravity (torque mode with exact gravity compensation of the nominal model).
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case hold, move, passive, gravity
    }

    @Option(help: "Path to the robot's URDF.") var urdf = "hardware/robots/sim6/robot.urdf"
    @Option(parsing: .unconditional, help: "Simulated seconds.") var seconds = 2.0
    @Option(parsing: .unconditional, help: "Control period (s).") var period = 0.001
    @Option(parsing: .unconditional, help: "Print every N-th period.") var printEvery = 100
    @Option(help: "What the arm does: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")).") var mode = Mode.move
    @Option(parsing: .unconditional, help: "Start configuration, comma-separated (rad or m); default zeros.") var start: NumberList?
    @Option(parsing: .unconditional, help: "Goal for --mode move, comma-separated; default 0.5 rad on every joint.") var target: NumberList?
    @Option(parsing: .unconditional, help: "Unmodelled payload at the last link (kg).") var payload = 0.0
    @Option(parsing: .unconditional, help: "Sensor noise seed.") var seed: UInt64 = 1
    @Flag(help: "Print JSON lines instead of a table.") var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard period > 0, period <= 0.1 else { throw ValidationError("--period must be in (0, 0.1] s") }
        guard printEvery > 0 else { throw ValidationError("--print-every must be positive") }
        guard payload >= 0, payload.isFinite else { throw ValidationError("--payload must be ≥ 0 kg") }
    }

    func run() throws {
        Startup.configureMath()
        let model = try RobotLoading.load(urdfPath: urdf)
        let n = model.dof
        let q0 = start?.values ?? Array(repeating: 0, count: n)
        let goal = target?.values ?? Array(repeating: 0.5, count: n)
        guard q0.count == n, goal.count == n else {
            throw ValidationError("--start and --target need \(n) values (\(model.joints.map(\.name).joined(separator: ", ")))")
        }
        var config = SimulatedArm.Configuration()
        config.period = period
        config.initialPosition = q0
        config.payloadMass = payload
        config.seed = seed
        var arm = try SimulatedArm(model: model, configuration: config)
        try arm.configure()
        let commandMode: CommandMode = mode == .gravity ? .torque : .position
        if mode != .passive { try arm.activate(mode: commandMode) }

        var state = JointState(dof: n)
        var command = JointCommand(mode: commandMode, dof: n)
        var ws = model.makeWorkspace()
        let zero = [Double](repeating: 0, count: n)
        let steps = Int((seconds / period).rounded())
        let tool = model.frames.count - 1
        if !json {
            print("robot \(model.name), mode \(mode.rawValue), period \(period * 1000) ms, payload \(payload) kg")
            print(pad("t [s]", 8) + model.joints.map { pad(String($0.name.prefix(11)), 12) }.joined() + "tool xyz [m]")
        }
        for k in 0 ... steps {
            try arm.read(into: &state)
            if k % printEvery == 0 || k == steps {
                model.forwardKinematics(&ws, q: state.position)
                let p = model.framePose(ws, frame: tool).translation
                if json {
                    try JSONOutput.print(["t": arm.time, "q": state.position, "v": state.velocity, "effort": state.effort, "tool": p.array] as [String: Any], lines: true)
                } else {
                    print(pad(String(format: "%.3f", arm.time), 8) + state.position.map { pad(String(format: "%+.4f", $0), 12) }.joined()
                        + String(format: "%+.3f %+.3f %+.3f", p.x, p.y, p.z))
                }
            }
            if k == steps { break }
            switch mode {
            case .passive:
                continue
            case .gravity:
                model.bias(&ws, q: state.position, v: zero)
                for i in 0 ..< n { command.values[i] = ws.tau[i] }
            case .hold, .move:
                // Minimum-jerk interpolation from start to goal over the first half of the run,
                // gravity of the nominal model fed forward.
                let s = min(1, Double(k) * period / max(seconds / 2, period))
                let blend = mode == .hold ? 0 : s * s * s * (10 - 15 * s + 6 * s * s)
                for i in 0 ..< n { command.values[i] = q0[i] + blend * (goal[i] - q0[i]) }
                model.bias(&ws, q: state.position, v: zero)
                for i in 0 ..< n { command.feedforwardEffort[i] = ws.tau[i] }
            }
            try arm.write(command)
        }
    }
}
