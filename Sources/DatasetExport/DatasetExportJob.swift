import EpisodeStore
import LeRobotExport

/// `robotd dataset export`'s work, apart from argument parsing: choose the store's episodes, read
/// them, build the dataset and write the directory. Nothing is written before every chosen
/// episode has been read and checked.
public struct DatasetExportJob {
    public var selection: EpisodeSelection
    public var directory: String
    public var force: Bool
    public var exporter: LeRobotExporter

    public init(selection: EpisodeSelection, directory: String, force: Bool, exporter: LeRobotExporter = LeRobotExporter()) {
        self.selection = selection
        self.directory = directory
        self.force = force
        self.exporter = exporter
    }

    /// What an export wrote.
    public struct Report: Sendable {
        /// Store ids in export order: `exported[k]` became episode k.
        public var exported: [Int64]
        public var frames: Int
        public var skipped: [(id: Int64, reason: String)]
        public var files: [String]
        public var bytes: Int
    }

    /// - Throws: `DatasetExportError` (selection, a bad episode, the directory, I/O); the
    ///   source's own errors are reported as `.io` naming the episode.
    public func run(_ source: any EpisodeSource) throws(DatasetExportError) -> Report {
        let summaries: [EpisodeSummary]
        do {
            summaries = try source.episodeSummaries()
        } catch {
            throw DatasetExportError(.io, "cannot list the store's episodes: \(error)")
        }
        let (chosen, skipped) = try selection.choose(from: summaries)
        var episodes: [RecordedEpisode] = []
        for summary in chosen {
            do {
                episodes.append(try source.episode(id: summary.id))
            } catch {
                throw DatasetExportError(.io, "cannot read episode \(summary.id): \(error)")
            }
        }
        let files = try RecordedDataset(episodes).files(exporter: exporter)
        try DatasetDirectory.write(files, to: directory, force: force)
        return Report(
            exported: chosen.map(\.id), frames: episodes.reduce(0) { $0 + $1.frames.count }, skipped: skipped,
            files: files.map(\.relativePath), bytes: files.reduce(0) { $0 + $1.bytes.count })
    }
}
