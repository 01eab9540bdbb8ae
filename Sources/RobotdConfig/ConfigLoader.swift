import Foundation
import Yams

/// Reads robotd's YAML configuration strictly: unknown keys, duplicate keys, wrong types and
/// out-of-range values are errors that name the key path and the line.
///
/// The YAML is composed into a node tree (which keeps line marks) and walked by `ConfigReader`;
/// Codable is not used because its errors lose the line.
public enum ConfigLoader {
    /// Largest configuration accepted (bytes): the documented keys fit in a few kilobytes.
    public static let maxBytes = 1 << 20

    /// Reads and validates a configuration file.
    ///
    /// A relative `robot.urdf` in the file resolves against the file's directory.
    ///
    /// - Parameter path: The YAML file.
    /// - Returns: The validated configuration; an empty file gives `DaemonConfiguration()`.
    /// - Throws: `ConfigError` naming the file, line and key path.
    /// - Warning: Not real-time safe.
    public static func load(path: String) throws(ConfigError) -> DaemonConfiguration {
        let text: String
        do throws(BoundedFile.Failure) {
            text = try BoundedFile.readText(path, limit: maxBytes)
        } catch {
            throw ConfigError(error.isTooLarge ? .tooLarge : .unreadable, keyPath: "", file: path, line: nil, message: "\(error)")
        }
        return try parse(text, file: path, baseDirectory: directory(of: path), checkingHost: true)
    }

    /// Validates configuration text.
    ///
    /// - Parameters:
    ///   - yaml: The YAML text; empty or only comments gives `DaemonConfiguration()`.
    ///   - file: File name used in errors, or nil.
    ///   - baseDirectory: Directory relative `robot.urdf` paths resolve against; nil keeps them
    ///     relative to the working directory.
    /// - Returns: The validated configuration.
    /// - Throws: `ConfigError` naming the line and key path.
    /// - Warning: Not real-time safe.
    public static func parse(_ yaml: String, file: String?, baseDirectory: String?) throws(ConfigError) -> DaemonConfiguration {
        try parse(yaml, file: file, baseDirectory: baseDirectory, checkingHost: false)
    }

    /// Validates configuration text, and with `checkingHost` also what it names on this machine:
    /// `robot.urdf` must be a regular file of at most `DaemonConfiguration.Robot.maxURDFBytes`
    /// when it exists, and CPUs must be in the process's affinity mask.
    static func parse(
        _ yaml: String, file: String?, baseDirectory: String?, checkingHost: Bool
    ) throws(ConfigError) -> DaemonConfiguration {
        guard yaml.utf8.count <= maxBytes else {
            throw ConfigError(
                .tooLarge, keyPath: "", file: file, line: nil,
                message: "\(yaml.utf8.count) bytes; a configuration is at most \(maxBytes) bytes (1 MiB)")
        }
        if let line = YAMLNesting.firstTooDeepLine(in: yaml) {
            throw ConfigError(
                .tooDeep, keyPath: "", file: file, line: line,
                message: "lists and mappings nested more than \(YAMLNesting.maxDepth) levels deep (the limit)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ConfigError(.syntax, keyPath: "", file: file, line: nil, message: "\(error)")
        }
        var reader = try ConfigReader(root, path: "", file: file, line: 1)
        reader.checksHost = checkingHost
        return try DaemonConfiguration(reading: &reader, baseDirectory: baseDirectory)
    }

    /// `path` if absolute or `base` is nil, else `base/path`.
    static func resolve(_ path: String, against base: String?) -> String {
        guard let base, !path.hasPrefix("/"), !base.isEmpty else { return path }
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        return base.hasSuffix("/") ? "\(base)\(relative)" : "\(base)/\(relative)"
    }

    /// The directory part of `path`, or nil for a bare file name (the working directory).
    static func directory(of path: String) -> String? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func syntaxError(_ error: YamlError, file: String?) -> ConfigError {
        func make(_ problem: String, _ mark: Mark, _ context: YamlError.Context?) -> ConfigError {
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return ConfigError(.syntax, keyPath: "", file: file, line: mark.line, message: message)
        }
        switch error {
        case let .scanner(context, problem, mark, _): return make(problem, mark, context)
        case let .parser(context, problem, mark, _): return make(problem, mark, context)
        case let .composer(context, problem, mark, _): return make(problem, mark, context)
        case let .reader(problem, offset, _, yaml):
            let line = offset.map { yaml.prefix($0).reduce(1) { $1 == "\n" ? $0 + 1 : $0 } }
            return ConfigError(.syntax, keyPath: "", file: file, line: line, message: "invalid text: \(problem)")
        default:
            return ConfigError(.syntax, keyPath: "", file: file, line: nil, message: "invalid YAML: \(error)")
        }
    }
}
