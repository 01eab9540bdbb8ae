import EpisodeStore
import Testing

@Suite struct RecordedEpisodeTests {
    @Test func statusNamesAreTheStoredOnes() {
        #expect(EpisodeStatus.allCases.map(\.rawValue) == ["recording", "complete", "incomplete"])
    }
}
