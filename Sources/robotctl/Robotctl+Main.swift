import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

extension Robotctl {
    /// Entry point: rewrites habits argument-parser does not know (options shared by every
    /// subcommand given before it, a mistyped subcommand) and hands the words to the parser.
    static func main() {
        switch CommandLineHabits.rewrite(Array(CommandLine.arguments.dropFirst()), subcommands: subcommandNames) {
        case let .arguments(arguments):
            main(arguments)
        case let .unknownSubcommand(word, suggestion):
            Output.error("robotctl: unknown subcommand '\(word)'; did you mean '\(suggestion)'?\nSee 'robotctl --help'.")
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
    }

    static var subcommandNames: [String] {
        configuration.subcommands.map { $0._commandName }
    }
}

/// Pure rewriting of robotctl's command line, before argument-parser sees it.
enum CommandLineHabits {
    enum Outcome: Equatable {
        case arguments([String])
        /// `word` is no subcommand but close to `suggestion`.
        case unknownSubcommand(String, suggestion: String)
    }

    /// `GlobalOptions` that take a value (`--socket PATH` or `--socket=PATH`).
    static let valueOptions: Set<String> = ["--socket", "--timeout"]
    static let flagOptions: Set<String> = ["--json"]

    /// Moves `GlobalOptions` given before the subcommand to just after it
    /// (`--socket P status` → `status --socket P`), so every subcommand reads them where it
    /// declares them; and finds the nearest subcommand to a word that is none.
    static func rewrite(_ arguments: [String], subcommands: [String]) -> Outcome {
        var index = 0
        var leading: [String] = []
        while index < arguments.count {
            let word = arguments[index]
            if flagOptions.contains(word) || valueOptions.contains(where: { word.hasPrefix($0 + "=") }) {
                leading.append(word)
                index += 1
            } else if valueOptions.contains(word), index + 1 < arguments.count {
                leading += arguments[index ... index + 1]
                index += 2
            } else {
                break
            }
        }
        // No subcommand follows (`--help`, `--version`, nothing at all): the parser reports it.
        guard index < arguments.count, !arguments[index].hasPrefix("-") else { return .arguments(arguments) }
        let word = arguments[index]
        // `help` takes subcommand names only; the shared options change nothing it prints.
        if word == "help" { return .arguments(Array(arguments[index...])) }
        if !subcommands.contains(word), let suggestion = nearest(to: word, in: subcommands) {
            return .unknownSubcommand(word, suggestion: suggestion)
        }
        return .arguments([word] + leading + arguments[(index + 1)...])
    }

    /// The candidate within two edits of `word` (and closer than its own length), if one is.
    static func nearest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= min(2, word.count - 1) else { return nil }
        return best.0
    }

    /// Levenshtein distance with adjacent transpositions (optimal string alignment), so
    /// `stauts` is one edit from `status`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        // (a.count + 1) × (b.count + 1), row-major
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0 ... a.count { d[i][0] = i }
        for j in 0 ... b.count { d[0][j] = j }
        for i in 1 ... a.count {
            for j in 1 ... b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
