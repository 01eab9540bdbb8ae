import Foundation
import Testing

/// DESIGN.md §1 rule 1: the pure core imports no Foundation, NIO, Logging, Glibc or service
/// machinery; time and I/O come in as parameters. The compiler cannot enforce this across
/// targets that merely could link those modules, so this test reads the sources.
@Suite struct LayeringTests {
    static let pureCoreModules = [
        "LinearAlgebra", "RigidBody", "RobotInterface", "Control", "ControlRuntime", "Planning", "Learning",
    ]

    /// ControlProtocol sits beside the pure core: it needs Glibc sockets and Foundation's
    /// JSONSerialization (robotctl's values are `[String: Any]`), but it must stay free of NIO,
    /// logging and every daemon module, or robotctl would link daemon code.
    static let protocolForbiddenImport =
        #"^\s*(@\w+\s+)*import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?(NIO\w*|Logging|ServiceLifecycle|ControlServer|ControlRuntime|RobotDaemon|RobotdConfig|Platform|Control|Planning|Learning|ModelFiles|SimulationDriver|RigidBody|LinearAlgebra|RobotInterface)(?!\w)"#

    /// Matches `import Foundation`, `@preconcurrency import NIOCore`, `import struct Foundation.Date`, ….
    /// `Foundation\w*` also covers FoundationEssentials, FoundationXML and FoundationNetworking.
    /// `(?!\w)` rather than `\b`: Swift's `\b` uses Unicode word boundaries, under which
    /// `Foundation.Date` is a single word.
    static let forbiddenImport =
        #"^\s*(@\w+\s+)*import\s+((typealias|struct|class|enum|protocol|let|var|func)\s+)?(Foundation\w*|NIO\w*|Logging|Glibc|ServiceLifecycle)(?!\w)"#

    static var repositoryRoot: URL {
        URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func pureCoreImportsNoIOModules() throws {
        let scanned = try Self.recordImports(matching: Self.forbiddenImport, in: Self.pureCoreModules, as: "pure-core module imports I/O")
        #expect(scanned > 0, "no Swift files found under \(Self.repositoryRoot.path(percentEncoded: false))Sources")
    }

    @Test func controlProtocolImportsNoNIOOrDaemonModules() throws {
        let scanned = try Self.recordImports(
            matching: Self.protocolForbiddenImport, in: ["ControlProtocol"], as: "ControlProtocol imports NIO or daemon code"
        )
        #expect(scanned > 0, "no Swift files found under Sources/ControlProtocol")
    }

    /// Records an issue for every import line in `modules` matching `pattern`; returns how many
    /// files it read.
    static func recordImports(matching pattern: String, in modules: [String], as complaint: String) throws -> Int {
        let regex = try Regex(pattern).anchorsMatchLineEndings()
        let fileManager = FileManager.default
        var scanned = 0
        for module in modules {
            let directory = Self.repositoryRoot.appending(path: "Sources/\(module)")
            guard let enumerator = fileManager.enumerator(at: directory, includingPropertiesForKeys: nil) else { continue }
            for case let file as URL in enumerator where file.pathExtension == "swift" {
                scanned += 1
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
        return scanned
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

    @Test func protocolRuleAllowsSocketsAndJSONButNoNIOOrDaemonModule() throws {
        let regex = try Regex(Self.protocolForbiddenImport)
        for allowed in ["import Glibc", "import Foundation", "import ControlProtocol"] {
            #expect(allowed.firstMatch(of: regex) == nil, "\(allowed)")
        }
        for refused in ["@preconcurrency import NIOCore", "import ControlServer", "import Control", "import ControlRuntime", "import Logging"] {
            #expect(refused.firstMatch(of: regex) != nil, "\(refused)")
        }
    }
}
