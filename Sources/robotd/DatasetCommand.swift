import ArgumentParser
import DatasetExport
import EpisodeStore
import Foundation
import RobotdConfig

/// `robotd dataset export|list`: the recorded episodes of a configuration's store, read-only, so
/// both work while the daemon records (docs/datasets.md).
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "List the recorded episodes, or export them as a LeRobot dataset.",
        subcommands: [Export.self, List.self]
    )

    /// The episode store under the configuration's data_directory (relative: against the current
    /// directory, as the daemon resolves it against its own), opened read-only.
    static func openStore(config path: String) throws -> any EpisodeSource {
        let configuration: DaemonConfiguration
        do { configuration = try ConfigLoader.load(path: path) } catch {
            throw CLIError("\(error)")
        }
        return try EpisodeStoreReader.open(dataDirectory: configuration.dataDirectory)
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export recorded episodes as a LeRobotDataset v3.0 directory.",
            discussion: """
                Episodes are exported in store-id order and renumbered 0..N-1; the store id of each \
                is in DIR/meta/robotd_episodes.json with its provenance. Episodes still recording are \
                never exported; incomplete ones (the recording did not end by record.stop) only with \
                --include-incomplete. Every file is written under a temporary name and renamed, \
                meta/info.json last. Columns and loading in LeRobot: docs/datasets.md.
                """
        )

        @Option(help: "The daemon configuration whose data_directory holds the episode store.") var config: String
        @Option(help: "The dataset format (only lerobot: LeRobotDataset v3.0).") var format: String = "lerobot"
        @Option(help: "The output directory (created; must be empty unless --force).") var out: String
        @Option(help: "Store ids to export, e.g. 1,3-5 (default: every complete episode).") var episodes: String?
        @Flag(name: .customLong("include-incomplete"), help: "Also export incomplete episodes (their frames up to the last commit).") var includeIncomplete = false
        @Flag(help: "Replace the dataset in a non-empty DIR (its data, meta, videos and images trees).") var force = false

        func validate() throws {
            guard format == "lerobot" else { throw ValidationError("--format \(format): the only format is lerobot") }
            if let episodes {
                do { _ = try EpisodeSelection.parseIDs(episodes) } catch { throw ValidationError(error.message) }
            }
        }

        func run() throws {
            let ids = try episodes.map { text throws(DatasetExportError) in try EpisodeSelection.parseIDs(text) }
            let job = DatasetExportJob(selection: EpisodeSelection(ids: ids, includeIncomplete: includeIncomplete), directory: out, force: force)
            let report: DatasetExportJob.Report
            do { report = try job.run(try DatasetCommand.openStore(config: config)) } catch let error as DatasetExportError {
                throw CLIError(error.description)
            }
            for skipped in report.skipped {
                FileHandle.standardError.write(Data("skipped episode \(skipped.id): \(skipped.reason)\n".utf8))
            }
            let storeIDs = report.exported.map(String.init).joined(separator: ", ")
            print("exported \(report.exported.count) episodes (store ids \(storeIDs)), \(report.frames) frames, \(report.files.count) files, \(report.bytes) bytes to \(out)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the episodes of the configuration's episode store.")

        @Option(help: "The daemon configuration whose data_directory holds the episode store.") var config: String

        func run() throws {
            let summaries = try DatasetCommand.openStore(config: config).episodeSummaries()
            print(Self.table(summaries))
        }

        /// One line per episode: id, status, frames, fps, seconds, start (UTC), command mode, task.
        static func table(_ summaries: [EpisodeSummary]) -> String {
            var out = pad("id", 6) + pad("status", 11) + pad("frames", 8) + pad("fps", 5) + pad("seconds", 9) + pad("started (UTC)", 21) + pad("action", 9) + "task"
            let format = ISO8601DateFormatter()
            for s in summaries.sorted(by: { $0.id < $1.id }) {
                let seconds = s.fps > 0 ? String(format: "%.1f", Double(s.frameCount) / Double(s.fps)) : "-"
                out += "\n" + pad(String(s.id), 6) + pad(s.status.rawValue, 11) + pad(String(s.frameCount), 8) + pad(String(s.fps), 5)
                    + pad(seconds, 9) + pad(format.string(from: Date(timeIntervalSince1970: s.startedAt)), 21) + pad(s.commandMode, 9) + s.task
                if let error = s.error { out += "  (\(error))" }
            }
            if summaries.isEmpty { out += "\n(no episodes)" }
            return out
        }
    }
}

/// The configuration's episode store, opened read-only: it works beside a running daemon (WAL
/// readers never block its writer) and changes nothing (no crash recovery from here).
enum EpisodeStoreReader {
    static func open(dataDirectory: String) throws -> any EpisodeSource {
        try EpisodeStore(path: EpisodeStore.path(dataDirectory: dataDirectory), access: .reader)
    }
}
