import ControlProtocol
import Testing

/// `record.*` and `dataset.*` params and results (docs/protocol.md, "record.start …").
@Suite struct RecordingMessagesTests {
    static func params(_ v: JSONValue, _ method: String) -> Params { Params(v, method: method) }

    @Test func startParamsAreCheckedAndNamed() throws {
        let ok = try RecordStartParams(Self.params(["task": "pick", "fps": 50], ControlMethod.recordStart))
        #expect(ok == RecordStartParams(task: "pick", fps: 50))
        let cases: [(JSONValue, String)] = [
            (["task": "", "fps": 50], "\"task\" must not be empty"),
            (["task": "t", "fps": 0], "\"fps\" must be at least 1"),
            (["task": "t", "fps": 2.5], "\"fps\" must be an integer"),
            (["task": "t"], "missing \"fps\""),
            (["fps": 5], "missing \"task\""),
            (["task": "t", "fps": 5, "rate": 1], "unknown param \"rate\""),
            (["task": .string(String(repeating: "x", count: 1025)), "fps": 5], "longer than 1024 bytes"),
        ]
        for (value, message) in cases {
            let error = #expect(throws: RPCError.self) { try RecordStartParams(Self.params(value, ControlMethod.recordStart)) }
            #expect(error?.code == .invalidParams && error?.message.contains(message) == true, "\(value.serialized): \(String(describing: error))")
        }
        #expect(throws: RPCError.self) { try DatasetDeleteParams(Self.params(["id": 0], ControlMethod.datasetDelete)) }
        #expect(try DatasetDeleteParams(Self.params(["id": 3], ControlMethod.datasetDelete)).id == 3)
    }

    @Test func resultsRoundTripWithTheDocumentedKeys() throws {
        let status = RecordingStatusResult(recording: true, episode: 7, task: "pick", fps: 50, frames: 12, droppedTicks: 0,
                                           commitP50Milliseconds: 0.5, commitP99Milliseconds: 1.5, lastError: nil)
        #expect(status.json.serialized
            == #"{"commit_ms":{"p50":0.5,"p99":1.5},"dropped_ticks":0,"episode":7,"fps":50,"frames":12,"last_error":null,"recording":true,"task":"pick"}"#)
        #expect(try RecordingStatusResult(json: status.json, method: ControlMethod.recordStart) == status)
        let idle = RecordingStatusResult(recording: false)
        #expect(try RecordingStatusResult(json: idle.json, method: ControlMethod.recordStop) == idle)

        let list = DatasetListResult(store: "data/episodes.sqlite", episodes: [
            DatasetEpisode(id: 1, task: "pick", fps: 50, frames: 100, status: "complete", startedAt: 1.5, endedAt: 3.5, commandMode: "effort", error: nil),
            DatasetEpisode(id: 2, task: "place", fps: 30, frames: 3, status: "incomplete", startedAt: 4, endedAt: nil, commandMode: "position",
                           error: "disk full"),
        ])
        #expect(try DatasetListResult(json: list.json, method: ControlMethod.datasetList) == list)
        #expect(Set(list.json["episodes"]?.arrayValue?.first?.objectValue?.keys.map { $0 } ?? [])
            == ["id", "task", "fps", "frames", "status", "started_at", "ended_at", "command_mode", "error"])
        #expect(try DatasetDeleteResult(json: DatasetDeleteResult(deleted: 2).json, method: ControlMethod.datasetDelete).deleted == 2)
        // A status from a daemon that does not record has no `recording`; one that does, has it.
        #expect(throws: RPCError.self) { try RecordingStatusResult(json: ["recording": true], method: ControlMethod.recordStart) }
    }
}
