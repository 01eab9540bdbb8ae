import Foundation
import Testing
@testable import RobotdConfig

/// configs/README.md must document every key the decoder accepts. The decoder's own key lists are
/// read from its unknown-key errors, so a key added to the schema without documentation fails here.
@Suite struct ConfigDocumentationTests {
    /// A YAML document that puts the probe key inside each mapping of the schema.
    static let sections: [(path: String, yaml: String)] = [
        ("", "__probe: 1"),
        ("robot", "robot: {__probe: 1}"),
        ("driver", "driver: {__probe: 1}"),
        ("driver.simulation", "driver: {simulation: {__probe: 1}}"),
        ("driver.simulation.servo", "driver: {simulation: {servo: {__probe: 1}}}"),
        ("driver.dynamixel", "driver: {kind: dynamixel, dynamixel: {port: p, ids: [1], __probe: 1}}"),
        ("driver.feetech", "driver: {kind: feetech, feetech: {port: p, ids: [1], __probe: 1}}"),
        ("loop", "loop: {__probe: 1}"),
        ("control", "control: {__probe: 1}"),
        ("control.hold", "control: {hold: {__probe: 1}}"),
        ("control.move", "control: {move: {__probe: 1}}"),
        ("limits", "limits: {__probe: 1}"),
        ("mpc", "mpc: {__probe: 1}"),
        ("mpc.weights", "mpc: {weights: {__probe: 1}}"),
        ("learning", "learning: {__probe: 1}"),
        ("policy", "policy: {__probe: 1}"),
        ("teleop", "teleop: {__probe: 1}"),
        ("limits.joints.<joint>", "limits: {joints: {elbow: {__probe: 1}}}"),
        ("socket", "socket: {__probe: 1}"),
        ("logging", "logging: {__probe: 1}"),
    ]

    static func knownKeys(_ yaml: String) throws -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml, file: nil, baseDirectory: nil)
        } catch {
            guard error.code == .unknownKey, let list = error.message.components(separatedBy: "expected one of ").last else {
                throw error
            }
            return list.components(separatedBy: ", ")
        }
        Issue.record("the probe key was accepted: \(yaml)")
        return []
    }

    @Test(arguments: sections.map(\.path))
    func readmeDocumentsEveryKey(_ path: String) throws {
        let readme = try String(
            contentsOf: ConfigLoaderTests.repoRoot.appendingPathComponent("configs/README.md"), encoding: .utf8)
        let yaml = try #require(Self.sections.first { $0.path == path }).yaml
        let keys = try Self.knownKeys(yaml)
        #expect(!keys.isEmpty)
        for key in keys {
            let full = path.isEmpty ? key : "\(path).\(key)"
            // Full paths (`loop.rate_hz`), a mapping by its children (`control.hold.kp`), or a bare
            // key in the first column of a section's own table (`substeps`).
            let documented = readme.contains("`\(full)`") || readme.contains("`\(full).") || readme.contains("| `\(key)` |")
            #expect(documented, "configs/README.md lacks \(full)")
        }
    }

    @Test func readmeListsEveryChoice() throws {
        let readme = try String(
            contentsOf: ConfigLoaderTests.repoRoot.appendingPathComponent("configs/README.md"), encoding: .utf8)
        let choices = DaemonConfiguration.Simulation.Integrator.allCases.map(\.rawValue)
            + DaemonConfiguration.Simulation.CommandMode.allCases.map(\.rawValue)
            + DaemonConfiguration.Loop.CatchUp.allCases.map(\.rawValue)
            + DaemonConfiguration.Logging.Level.allCases.map(\.rawValue)
            + DaemonConfiguration.Logging.Target.allCases.map(\.rawValue)
            + DaemonConfiguration.ResidualDerivatives.allCases.map(\.rawValue)
            + DaemonConfiguration.Teleop.Source.allCases.map(\.rawValue)
        for choice in choices {
            #expect(readme.contains("`\(choice)`"), "configs/README.md lacks \(choice)")
        }
    }
}
