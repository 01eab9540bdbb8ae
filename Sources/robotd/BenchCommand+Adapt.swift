import ArgumentParser
import Benchmarks
import Foundation
import RobotdConfig

/// `robotd bench adapt --json`: MPC tracking with and without online residual learning on an
/// arm carrying an unmodelled payload and joint friction.
struct AdaptBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapt",
        abstract: "Online model learning: MPC path-tracking RMS per window, learned vs the rigid-body model.",
        discussion: """
            The simulated arm of --config (sim6) carries a --payload kg mass at its last link and extra \
            joint friction; MPC makes the end effector trace a 8 cm circle (one lap per 4 s) for \
            --seconds of simulated time, once with the rigid-body model alone and once with the \
            daemon's online learner (the configuration's learning section) publishing residual \
            models. Prints {"window_s", "learned_rms_m": […], "nominal_rms_m": […], …}. Target: \
            the last window at most half the first, no window worse than the nominal model's \
            ("target_met"). Deterministic; takes about 1.5 minutes of wall time.
            """
    )

    @Option(help: "The YAML configuration file.") var config = "configs/sim.yaml"
    @Option(parsing: .unconditional, help: "Simulated seconds.") var seconds = 120.0
    @Option(parsing: .unconditional, help: "Window for the RMS (s).") var window = 10.0
    @Option(parsing: .unconditional, help: "Unmodelled payload (kg).") var payload = 1.0
    @Option(parsing: .unconditional, help: "Extra Coulomb friction per joint (N·m), comma-separated; default 1.5,1.5,1,0.3,0.3,0.3.") var friction: NumberList?
    @Option(help: "learning.derivatives for this run (full, position, none); default the configuration's.")
    var derivatives: DaemonConfiguration.ResidualDerivatives?
    @Option(parsing: .unconditional, help: "learning.soft_disagreement for this run (state units²); default the configuration's.") var softDisagreement: Double?
    @Option(parsing: .unconditional, help: "learning.disagreement_weight for this run; default the configuration's.") var disagreementWeight: Double?
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard window > 0, window <= seconds else { throw ValidationError("--window must be in (0, --seconds]") }
        guard payload >= 0, payload <= 10 else { throw ValidationError("--payload must be in [0, 10] kg") }
        for (name, value) in [("--soft-disagreement", softDisagreement), ("--disagreement-weight", disagreementWeight)] {
            if let value, !(value >= 0 && value.isFinite) { throw ValidationError("\(name) must be a finite number ≥ 0") }
        }
        if let friction, friction.values.count != 6 || !friction.values.allSatisfy({ $0 >= 0 }) {
            throw ValidationError("--friction: 6 comma-separated values ≥ 0 (N·m, one per sim6 joint)")
        }
    }

    func run() throws {
        Startup.configureMath()
        var c = try BenchConfiguration.load(config)
        // The overrides go into the configuration the run uses, as the file's values would.
        if let derivatives { c.learning.derivatives = derivatives }
        if let softDisagreement { c.learning.softDisagreement = softDisagreement }
        if let disagreementWeight { c.learning.disagreementWeight = disagreementWeight }
        if let problem = c.learning.disagreementProblem { throw ValidationError("--soft-disagreement: \(problem)") }
        var options = AdaptBenchmark.Options()
        options.seconds = seconds
        options.window = window
        options.payloadMass = payload
        if let friction { options.extraFriction = friction.values }
        let report = try AdaptBenchmark.run(config: c, options: options)
        try JSONOutput.print(report.json)
    }
}

extension DaemonConfiguration.ResidualDerivatives: ExpressibleByArgument {}
