import Foundation
import Testing

/// docs/architecture.md §1 rule 1: the pure core imports no Foundation, NIO, Logging, Glibc or service
/// machinery; time and I/O come in as parameters. The compiler cannot enforce this across
/// targets that merely could link those modules, so this test reads the sources.
///
/// The pure modules are the targets under `// MARK: pure core` in Package.swift, so a new one is
/// checked without editing this test; a module this test expects there but cannot find (moved
/// out of the section, renamed, its sources gone) fails instead of being skipped.
@Suite struct LayeringTests {
    /// The modules docs/architecture.md puts in the pure core; each must be in Package.swift's pure-core
    /// section and have sources.
    static let expectedPureCoreModules: Set<String> = [
        "LinearAlgebra", "RigidBody", "RobotInterface", "Control", "ControlRuntime", "Planning", "Learning", "ControlProtocol",
        "ServoProtocol", "Digest", "Parquet", "LeRobotExport",
    ]

    /// Matches `import Foundation`, `@preconcurrency import NIOCore`, `import struct Foundation.Date`, ….
    /// `Foundation\w*` also covers FoundationEssentials, FoundationXML and FoundationNetworking.
    /// `(?!\w)` rather than `\b`: Swift's `\b` uses Unicode word boundaries, under which
    /// `Foundation.Date` is a single word.
    static let forbiddenImport =
        #"^\s*(@\w+\s+)*import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?(Foundation\w*|NIO\w*|Logging|Glibc|ServiceLifecycle)(?!\w)"#

    /// The socket client (ControlSocket) may use Glibc sockets, but no NIO, logging, Foundation
    /// or daemon module: robotctl links it.
    static let socketForbiddenImport =
        #"^\s*(@\w+\s+)*import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?(Foundation\w*|NIO\w*|Logging|ServiceLifecycle|ControlServer|ControlPorts|ControlRuntime|RobotDaemon|RobotdConfig|Platform|Control|Planning|Learning|ModelFiles|SimulationDriver|RigidBody|LinearAlgebra|RobotInterface)(?!\w)"#

    /// Any import line; group 1 is the module (`import struct Foundation.Date` gives Foundation).
    static let anyImport = #"^\s*(?:@\w+\s+)*import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?(\w+)"#

    /// What robotctl may import: the protocol, its socket client, the argument parser, and the
    /// system's own modules. No daemon code.
    static let robotctlAllowedImports: Set<String> = ["ControlProtocol", "ControlSocket", "ArgumentParser", "Foundation", "Glibc", "Darwin"]
    static let robotctlPackageDependencies: Set<String> = ["ControlProtocol", "ControlSocket", "ArgumentParser"]

    static var repositoryRoot: URL {
        URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func packageManifest() throws -> String {
        try String(contentsOf: repositoryRoot.appending(path: "Package.swift"), encoding: .utf8)
    }

    /// The target names between `// MARK: <section>` and the next `// MARK:` of Package.swift.
    static func targets(inSection section: String, of manifest: String) -> [String] {
        guard let start = manifest.range(of: "// MARK: \(section)\n") else { return [] }
        let rest = manifest[start.upperBound...]
        let body = rest.range(of: "// MARK:").map { rest[..<$0.lowerBound] } ?? rest
        return body.matches(of: #/\.target\(\s*name:\s*"(\w+)"/#).map { String($0.output.1) }
    }

    @Test func packageDeclaresEveryExpectedPureModuleInThePureCoreSection() throws {
        let declared = Set(Self.targets(inSection: "pure core", of: try Self.packageManifest()))
        for module in Self.expectedPureCoreModules.sorted() where !declared.contains(module) {
            Issue.record("Package.swift: \(module) is not a target under `// MARK: pure core` (found: \(declared.sorted().joined(separator: ", ")))")
        }
    }

    @Test func pureCoreImportsNoIOModules() throws {
        let modules = Self.targets(inSection: "pure core", of: try Self.packageManifest())
        #expect(!modules.isEmpty, "no targets under `// MARK: pure core` in Package.swift")
        try Self.recordImports(matching: Self.forbiddenImport, in: Array(Set(modules).union(Self.expectedPureCoreModules)).sorted(),
                               as: "pure-core module imports I/O")
    }

    @Test func controlPortsImportNoIOModules() throws {
        try Self.recordImports(matching: Self.forbiddenImport, in: ["ControlPorts"], as: "ControlPorts imports I/O")
    }

    @Test func controlSocketImportsNoNIOFoundationOrDaemonModules() throws {
        try Self.recordImports(matching: Self.socketForbiddenImport, in: ["ControlSocket"], as: "ControlSocket imports NIO, Foundation or daemon code")
    }

    /// robotctl links no daemon code: its sources import only `robotctlAllowedImports`, and its
    /// target depends on exactly the protocol, the socket client and the argument parser.
    @Test func robotctlImportsOnlyTheProtocolTheSocketClientAndArgumentParser() throws {
        let regex = try Regex(Self.anyImport).anchorsMatchLineEndings()
        let files = try Self.swiftFiles(in: "robotctl")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                guard let match = line.firstMatch(of: regex), let module = match.output[1].substring.map(String.init) else { continue }
                if !Self.robotctlAllowedImports.contains(module) {
                    Issue.record("Sources/robotctl/\(file.lastPathComponent):\(index + 1): robotctl imports \(module); it may import only \(Self.robotctlAllowedImports.sorted().joined(separator: ", "))")
                }
            }
        }
        let manifest = try Self.packageManifest()
        let target = try #require(manifest.firstMatch(of: #/\.executableTarget\(\s*name:\s*"robotctl",\s*dependencies:\s*\[([^\]]*)\]/#),
                                  "no robotctl executableTarget with a dependencies list in Package.swift")
        let dependencies = Set(target.output.1.matches(of: #/"(\w+)"/#).map { String($0.output.1) }).subtracting(["swift-argument-parser"])
        #expect(dependencies == Self.robotctlPackageDependencies, "robotctl depends on \(dependencies.sorted())")
    }

    /// The planner and the learner implement the server's ports without linking the server.
    @Test func plannerAndLearnerDoNotImportTheServer() throws {
        let regex = try Regex(#"^\s*(@\w+\s+)*import\s+ControlServer(?!\w)"#).anchorsMatchLineEndings()
        let files = try Self.swiftFiles(in: "RobotDaemon").filter {
            $0.lastPathComponent.hasPrefix("MPCPlanner") || $0.lastPathComponent.hasPrefix("LearnerService")
        }
        #expect(files.count >= 2, "MPCPlanner and LearnerService sources not found")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            if text.firstMatch(of: regex) != nil { Issue.record("Sources/RobotDaemon/\(file.lastPathComponent) imports ControlServer") }
        }
    }

    /// The Swift files of `Sources/<module>`; a module without any is an error, not a skip.
    static func swiftFiles(in module: String) throws -> [URL] {
        let directory = repositoryRoot.appending(path: "Sources/\(module)")
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            Issue.record("Sources/\(module) does not exist")
            return []
        }
        let files = enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        if files.isEmpty { Issue.record("Sources/\(module) has no Swift files") }
        return files
    }

    /// Records an issue for every import line in `modules` matching `pattern`, and for every
    /// module without sources.
    static func recordImports(matching pattern: String, in modules: [String], as complaint: String) throws {
        let regex = try Regex(pattern).anchorsMatchLineEndings()
        for module in modules {
            for file in try swiftFiles(in: module) {
                let text = try String(contentsOf: file, encoding: .utf8)
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.firstMatch(of: regex) != nil {
                    let relative = file.path(percentEncoded: false).replacingOccurrences(
                        of: Self.repositoryRoot.path(percentEncoded: false), with: ""
                    )
                    Issue.record("\(relative):\(index + 1): \(complaint): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
    }

    @Test func theSectionReaderFindsTargetsAndStopsAtTheNextSection() {
        let manifest = """
            // MARK: pure core
            .target(
                name: "A",
                dependencies: []
            ),
            .target(name: "B"),
            // MARK: I/O edges
            .target(name: "C"),
            """ + "\n"
        #expect(Self.targets(inSection: "pure core", of: manifest) == ["A", "B"])
        #expect(Self.targets(inSection: "I/O edges", of: manifest) == ["C"])
        #expect(Self.targets(inSection: "nothing", of: manifest) == [])
    }

    @Test(arguments: [
        ("import Foundation", true),
        ("  import FoundationEssentials", true),
        ("@preconcurrency import NIOCore", true),
        ("import struct Foundation.Date", true),
        ("import Glibc", true),
        ("import Logging", true),
        ("import ServiceLifecycle", true),
        ("import LinearAlgebra", false),
        ("import RealModule", false),
        ("import NIOLikeButNot", true),
        ("import LoggingExtras", false),
        ("// import Foundation", false),
    ])
    func forbiddenImportPatternMatches(_ line: String, _ forbidden: Bool) throws {
        let regex = try Regex(Self.forbiddenImport)
        #expect((line.firstMatch(of: regex) != nil) == forbidden)
    }

    @Test func socketRuleAllowsGlibcAndTheProtocolButNoNIOFoundationOrDaemonModule() throws {
        let regex = try Regex(Self.socketForbiddenImport)
        for allowed in ["import Glibc", "import ControlProtocol"] {
            #expect(allowed.firstMatch(of: regex) == nil, "\(allowed)")
        }
        for refused in ["@preconcurrency import NIOCore", "import Foundation", "import ControlServer", "import Control", "import ControlRuntime", "import Logging"] {
            #expect(refused.firstMatch(of: regex) != nil, "\(refused)")
        }
    }

    @Test func anyImportNamesTheModule() throws {
        let regex = try Regex(Self.anyImport)
        for (line, module) in [("import ArgumentParser", "ArgumentParser"), ("@preconcurrency import NIOCore", "NIOCore"),
                               ("import struct Foundation.Date", "Foundation")] {
            #expect(line.firstMatch(of: regex)?.output[1].substring.map(String.init) == module, "\(line)")
        }
    }
}
