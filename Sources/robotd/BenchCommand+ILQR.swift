import ArgumentParser
import Benchmarks

/// `robotd bench ilqr --problem PATH --json`: solves a reaching problem described in JSON (see
/// hardware/robots/sim6/reach.json and the README) and reports cost, accuracy and time.
struct ILQRBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ilqr",
        abstract: "Solve a JSON reaching problem with iLQR: cost, iterations, solve time.",
        discussion: """
            Running node k < T costs dt·(½w_f‖p(q_k) − p*‖² + ½w_x‖x_k − x0‖² + ½w_u‖u_k‖²), the terminal \
            node ½w_T‖p(q_T) − p*‖²; dynamics: ABA (with the URDF's armature, no damping or friction), \
            semi-implicit Euler. init "zero" starts from xs = 0, us = 0 (an infeasible iterate whose \
            gaps the solver closes, as FDDP does), "x0_gravity" from xs = x0, us = gravity torque at q0 \
            (rolled out). --mpc N re-solves N consecutive steps warm-started with 1 and 3 \
            iterations and reports per-step times.

            Crocoddyl's FDDP (Benchmarks/anchors/crocoddyl_reach.py, one thread) solves the same \
            problem side by side when it is installed: --rounds R alternates R blocks of --repeat \
            solves of ours with as many of Crocoddyl's (each in one process), and the report gives \
            "time_ratio_to_anchor" (ours/Crocoddyl, median and min over the pooled solves, < 1 = \
            robotd faster) and whether both reached the same optimum in as many iterations. --all \
            runs the four cases T = 50, 100 × init zero, x0_gravity.
            """
    )

    @Option(help: "The JSON problem file.") var problem: String
    @Option(parsing: .unconditional, help: "Override the problem's horizon.") var horizon: Int?
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Override the problem's repeat count.") var repeatCount: Int?
    @Option(parsing: .unconditional, help: "Also run N warm-started MPC steps.") var mpc: Int?
    @Flag(help: "The four cases T = 50, 100 × init zero, x0_gravity (ignores --horizon).") var all = false
    @Option(parsing: .unconditional, help: "Alternating blocks of ours and Crocoddyl's solves.") var rounds = 3
    @Flag(inversion: .prefixedNo, help: "Run Crocoddyl side by side (when installed).") var anchor = true
    @Option(parsing: .unconditional, help: "The backward pass's kernels: 0 baseline, 1 AVX2+FMA, 2 AVX-512F (default: AVX2+FMA where the CPU has it).")
    var kernelBuild: Int?
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func run() throws {
        Startup.configureMath()
        do {
            var p = try ILQRBenchmark.parse(problem)
            if let horizon { p.horizon = horizon }
            if let repeatCount { p.repeats = repeatCount }
            p.kernelBuild = kernelBuild
            if all {
                guard mpc == nil else { throw ValidationError("--mpc runs with one case, not with --all") }
                try JSONOutput.print(try ILQRBenchmark.runAll(p, anchor: anchor, rounds: rounds, loadModel: RobotLoading.load(urdfPath:)))
            } else {
                try JSONOutput.print(try ILQRBenchmark.run(p, mpc: mpc, anchor: anchor, rounds: rounds,
                                                           loadModel: RobotLoading.load(urdfPath:)))
            }
        } catch let error as BenchmarkError {
            throw ValidationError(error.description)
        }
    }
}
