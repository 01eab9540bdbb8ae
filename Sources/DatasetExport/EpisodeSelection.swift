import EpisodeStore

/// What the exporter reads from an episode store. `EpisodeStore`'s read-only reader conforms in
/// `robotd` (one line); tests use an in-memory list.
public protocol EpisodeSource {
    /// Every episode, frames left out, in store-id order.
    func episodeSummaries() throws -> [EpisodeSummary]
    /// One episode with its frames.
    func episode(id: Int64) throws -> RecordedEpisode
}

/// `--episodes 1,3-5` (store ids; ranges inclusive) and which of the store's episodes an export
/// takes: those selected (all when no list is given), never one still `recording`, an
/// `incomplete` one only when asked for.
public struct EpisodeSelection: Sendable, Hashable {
    /// nil = every episode.
    public var ids: Set<Int64>?
    public var includeIncomplete: Bool

    public init(ids: Set<Int64>? = nil, includeIncomplete: Bool = false) {
        self.ids = ids
        self.includeIncomplete = includeIncomplete
    }

    /// Parses `1,3-5` into {1, 3, 4, 5}.
    /// - Throws: `.selection` naming the bad item (empty, not a number, a reversed range).
    public static func parseIDs(_ text: String) throws(DatasetExportError) -> Set<Int64> {
        var ids = Set<Int64>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingSpaces
            let bounds = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = Int64(bounds[0]), low >= 0, let high = bounds.count == 2 ? Int64(bounds[1]) : low else {
                throw DatasetExportError(.selection, "--episodes: '\(item)' is not an episode id or a range like 3-5")
            }
            guard low <= high else { throw DatasetExportError(.selection, "--episodes: the range '\(item)' is reversed") }
            guard high - low < 1_000_000 else { throw DatasetExportError(.selection, "--episodes: the range '\(item)' is too long") }
            for id in low...high { ids.insert(id) }
        }
        return ids
    }

    /// The chosen episodes in store-id order, and those left out with why (for the user).
    /// - Throws: `.selection` when an explicitly listed id is missing, still recording, or
    ///   incomplete without `includeIncomplete`; `.noEpisodes` when nothing remains.
    public func choose(from summaries: [EpisodeSummary]) throws(DatasetExportError) -> (chosen: [EpisodeSummary], skipped: [(id: Int64, reason: String)]) {
        if let ids {
            let known = Set(summaries.map(\.id))
            if let missing = ids.subtracting(known).min() {
                throw DatasetExportError(.selection, "episode \(missing) is not in the store (robotd dataset list shows its episodes)")
            }
        }
        var chosen: [EpisodeSummary] = [], skipped: [(id: Int64, reason: String)] = []
        for summary in summaries.sorted(by: { $0.id < $1.id }) where ids?.contains(summary.id) ?? true {
            let reason: String? = switch summary.status {
            case .recording: "still recording"
            case .incomplete where !includeIncomplete: "incomplete" + (summary.error.map { " (\($0))" } ?? "") + "; --include-incomplete exports it"
            default: nil
            }
            guard let reason else {
                chosen.append(summary)
                continue
            }
            if ids != nil { throw DatasetExportError(.selection, "episode \(summary.id) is \(reason)") }
            skipped.append((summary.id, reason))
        }
        guard !chosen.isEmpty else {
            throw DatasetExportError(.noEpisodes, summaries.isEmpty ? "the store has no episodes" : "no episode to export (\(skipped.count) skipped: \(skipped.map { "\($0.id) \($0.reason)" }.joined(separator: ", ")))")
        }
        return (chosen, skipped)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
