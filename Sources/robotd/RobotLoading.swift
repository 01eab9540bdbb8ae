import ArgumentParser
import Foundation
import RigidBody
import RobotdConfig

/// Reads and builds a robot model at the CLI edge; errors become clean CLI failures that name
/// the file, line and element.
enum RobotLoading {
    static func load(urdfPath path: String) throws -> RobotModel {
        let text: String
        do throws(BoundedFile.Failure) {
            text = try BoundedFile.readText(path, limit: URDFParser.maxBytes)
        } catch {
            throw CLIError("URDF \(path): \(error)")
        }
        do {
            return try RobotModel(urdfText: text, file: path)
        } catch {
            throw CLIError("invalid URDF: \(error)")
        }
    }
}

/// Reads a daemon configuration for a benchmark; a rejected file is printed as the loader
/// words it (`FILE:LINE: key: problem`) and exits 78 (EX_CONFIG), as `robotd run` does.
enum BenchConfiguration {
    static func load(_ path: String) throws -> DaemonConfiguration {
        do {
            return try ConfigLoader.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

/// A failure already explained by its message; printed to stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

extension CLIError: LocalizedError {
    var errorDescription: String? { description }
}

/// Comma-separated numbers, e.g. `--q 0,0.5,-1`.
///
/// Options of this type, like every numeric option of robotd, are declared
/// `parsing: .unconditional`: their value may start with a minus (`--q -0.5,1.2`), which
/// argument-parser would otherwise read as an option and report "Missing value". robotctl
/// accepts negative numbers the same way.
struct NumberList: ExpressibleByArgument {
    var values: [Double]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        var values: [Double] = []
        for p in parts {
            guard let x = Double(p.trimmingCharacters(in: .whitespaces)), x.isFinite else { return nil }
            values.append(x)
        }
        self.values = values
    }
}

enum JSONOutput {
    /// Key-sorted JSON of a Foundation property list (dictionaries, arrays, numbers): pretty by
    /// default, one line per object with `lines` (JSON Lines).
    static func print(_ object: Any, lines: Bool = false) throws {
        let options: JSONSerialization.WritingOptions = lines ? [.sortedKeys] : [.prettyPrinted, .sortedKeys]
        let data = try JSONSerialization.data(withJSONObject: object, options: options)
        Swift.print(String(decoding: data, as: UTF8.self))
    }
}
