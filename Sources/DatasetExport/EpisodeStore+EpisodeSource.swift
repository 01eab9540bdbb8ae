import EpisodeStore

extension EpisodeStore: EpisodeSource {
    public func episodeSummaries() throws -> [EpisodeSummary] { try list() }
}
