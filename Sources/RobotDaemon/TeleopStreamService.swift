import ControlPorts
import ControlProtocol
import ControlRuntime
import LinearAlgebra
import RigidBody
import Synchronization

/// `teleop.stream` over a `StreamedTeleop` source: checks a target against the robot, solves
/// inverse kinematics for a pose (damped least squares, warm-started from the previous solution,
/// or from the measured pose when the stream had gone stale), and posts the joint target.
/// Runs on the server's event loop (never in the tick).
final class TeleopStreamService: TeleopControl, @unchecked Sendable {
    let source: StreamedTeleop
    let jointNames: [String]
    /// The solver and the previous solution (the next pose's seed).
    private let solver: Mutex<(ik: InverseKinematics, previous: [Double]?)>
    private let measured: @Sendable () -> [Double]
    private let refused = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - frame: the end-effector frame poses are for.
    ///   - measured: the measured joint positions (telemetry), the seed after a pause.
    init(source: StreamedTeleop, model: RobotModel, frame: Int, measured: @escaping @Sendable () -> [Double]) {
        self.source = source
        jointNames = model.joints.map(\.name)
        var options = InverseKinematics.Options()
        options.iterations = 20
        let ik = InverseKinematics(model: model, frame: frame, lower: source.limits.lower, upper: source.limits.upper, options: options)
        solver = Mutex((ik, nil))
        self.measured = measured
    }

    func stream(_ params: TeleopStreamParams) throws(RPCError) -> TeleopStreamResult {
        do {
            return try post(params)
        } catch {
            refused.add(1, ordering: .relaxed)
            throw error
        }
    }

    func countRefused() { refused.add(1, ordering: .relaxed) }

    private func post(_ params: TeleopStreamParams) throws(RPCError) -> TeleopStreamResult {
        let limits = source.limits
        let n = jointNames.count
        switch params.target {
        case let .joints(q):
            guard q.count == n else {
                throw .invalidParams("\"q\" has \(q.count) values; the robot has \(n) joints (\(jointNames.joined(separator: ", ")))")
            }
            for i in 0 ..< n where !q[i].isFinite || q[i] < limits.lower[i] || q[i] > limits.upper[i] {
                throw .invalidParams("\"q\"[\(i)] = \(q[i]) rad is outside joint \(jointNames[i])'s limits [\(limits.lower[i]), \(limits.upper[i])]")
            }
            let sequence = source.post(q)
            solver.withLock { $0.previous = q }
            return TeleopStreamResult(q: q, sequence: Int(sequence), mode: "")
        case let .pose(position, orientation):
            guard position.allSatisfy(\.isFinite) else { throw .invalidParams("\"position\" must be finite numbers (m), got \(position)") }
            let p = Vector3(position[0], position[1], position[2])
            var rotation: Matrix3?
            if let o = orientation {
                let norm = o.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard o.allSatisfy(\.isFinite), abs(norm - 1) < 1e-3 else {
                    throw .invalidParams("\"orientation\" must be a unit quaternion [w, x, y, z] (norm \(norm))")
                }
                rotation = Self.rotation(o.map { $0 / norm })
            }
            // A stale stream (or none yet) starts from where the arm is, not from a pose it left.
            let input = source.newestInput
            let stale = input.sequence == 0 || source.now() &- input.postedAt > UInt64(source.configuration.timeout * 1e9)
            let seed = stale ? measured() : nil
            let solution = try solver.withLock { (s) throws(RPCError) -> InverseKinematics.Solution in
                let distance = (p - s.ik.base).norm
                guard distance <= s.ik.reach else {
                    throw .invalidParams("\"position\" (\(position[0]), \(position[1]), \(position[2])) is outside the workspace: \(Self.round(distance)) m from the base, reach \(Self.round(s.ik.reach)) m")
                }
                let solution = s.ik.solve(position: p, orientation: rotation, seed: seed ?? s.previous ?? measured())
                s.previous = solution.q
                return solution
            }
            let sequence = source.post(solution.q)
            return TeleopStreamResult(q: solution.q, sequence: Int(sequence), mode: "", positionErrorM: solution.positionError,
                                      orientationErrorRad: orientation == nil ? nil : solution.orientationError)
        }
    }

    func status() -> TeleopStatus {
        let stats = source.statistics.read()
        let input = source.newestInput
        let now = source.now()
        let age = input.sequence == 0 ? nil : Double(now > input.postedAt ? now - input.postedAt : 0) * 1e-9
        return TeleopStatus(source: source.name, acting: stats.acting, inputAgeS: age, latencyP50Ms: stats.latencyMilliseconds(atQuantile: 0.5), latencyP99Ms: stats.latencyMilliseconds(atQuantile: 0.99),
                            received: Int(clamping: input.sequence), refused: Int(clamping: refused.load(ordering: .relaxed) &+ stats.refused))
    }

    /// The quaternion (w, x, y, z) as a rotation matrix.
    static func rotation(_ q: [Double]) -> Matrix3 {
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        return Matrix3(1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                       2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                       2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y))
    }

    private static func round(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}
