/// Typed params and results of `record.*` and `dataset.*` (docs/protocol.md, "Recording"):
/// demonstrations recorded into the episode store under `data_directory`.

extension ControlMethod {
    public static let recordStart = "record.start"
    public static let recordStop = "record.stop"
    public static let recordDiscard = "record.discard"
    public static let datasetList = "dataset.list"
    public static let datasetDelete = "dataset.delete"
}

/// `record.start`: `{"task": "…", "fps": N}`. `task` non-empty (at most `maxTaskBytes` UTF-8
/// bytes), `fps` an integer 1…the loop's rate (the server checks the upper bound).
public struct RecordStartParams: Sendable, Hashable {
    public static let maxTaskBytes = 1024

    public var task: String
    public var fps: Int

    public init(task: String, fps: Int) {
        self.task = task
        self.fps = fps
    }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["task", "fps"])
        task = try p.string("task")
        fps = try p.int("fps")
        guard !task.isEmpty else { throw p.fail("\(p.name("task")) must not be empty") }
        guard task.utf8.count <= Self.maxTaskBytes else { throw p.fail("\(p.name("task")) is longer than \(Self.maxTaskBytes) bytes") }
        guard fps >= 1 else { throw p.fail("\(p.name("fps")) must be at least 1, got \(fps)") }
    }

    public var json: JSONValue { ["task": .string(task), "fps": JSONValue(fps)] }
}

/// The recorder's state: `record.start`'s, `record.stop`'s and `record.discard`'s result, and
/// `status`'s `recording` member. `episode`, `task`, `fps` name the current recording (or the
/// last one, when `recording` is false); `frames` its frames so far; `dropped_ticks` the ticks
/// the recorder's ring refused (full); `commit_ms` the p50/p99 commit durations; `last_error`
/// why the last recording stopped by itself (disk full, unwritable store).
public struct RecordingStatusResult: ControlResult {
    public static let method = ControlMethod.recordStart

    public var recording: Bool
    public var episode: Int?
    public var task: String?
    public var fps: Int?
    public var frames: Int
    public var droppedTicks: Int
    public var commitP50Milliseconds: Double?
    public var commitP99Milliseconds: Double?
    public var lastError: String?

    public init(recording: Bool, episode: Int? = nil, task: String? = nil, fps: Int? = nil, frames: Int = 0, droppedTicks: Int = 0,
                commitP50Milliseconds: Double? = nil, commitP99Milliseconds: Double? = nil, lastError: String? = nil) {
        self.recording = recording
        self.episode = episode
        self.task = task
        self.fps = fps
        self.frames = frames
        self.droppedTicks = droppedTicks
        self.commitP50Milliseconds = commitP50Milliseconds
        self.commitP99Milliseconds = commitP99Milliseconds
        self.lastError = lastError
    }

    public var json: JSONValue {
        ["recording": .bool(recording), "episode": episode.map { JSONValue($0) } ?? .null, "task": task.map { .string($0) } ?? .null,
         "fps": fps.map { JSONValue($0) } ?? .null, "frames": JSONValue(frames), "dropped_ticks": JSONValue(droppedTicks),
         "commit_ms": ["p50": commitP50Milliseconds.map { .number($0) } ?? .null, "p99": commitP99Milliseconds.map { .number($0) } ?? .null],
         "last_error": lastError.map { .string($0) } ?? .null]
    }

    public init(_ r: Params) throws(RPCError) {
        let commit = try r.object("commit_ms")
        self.init(recording: try r.bool("recording"), episode: try r.optionalInt("episode"), task: try r.optionalString("task"),
                  fps: try r.optionalInt("fps"), frames: try r.int("frames"), droppedTicks: try r.int("dropped_ticks"),
                  commitP50Milliseconds: try commit.optionalNumber("p50"), commitP99Milliseconds: try commit.optionalNumber("p99"),
                  lastError: try r.optionalString("last_error"))
    }
}

/// One stored episode (`dataset.list`): `status` is `recording`, `complete` or `incomplete`;
/// `started_at`/`ended_at` Unix seconds; `command_mode` what the actions are ("effort",
/// "position", "velocity").
public struct DatasetEpisode: Sendable, Hashable {
    public var id: Int
    public var task: String
    public var fps: Int
    public var frames: Int
    public var status: String
    public var startedAt: Double
    public var endedAt: Double?
    public var commandMode: String
    public var error: String?

    public init(id: Int, task: String, fps: Int, frames: Int, status: String, startedAt: Double, endedAt: Double?, commandMode: String,
                error: String?) {
        self.id = id
        self.task = task
        self.fps = fps
        self.frames = frames
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.commandMode = commandMode
        self.error = error
    }

    public var json: JSONValue {
        ["id": JSONValue(id), "task": .string(task), "fps": JSONValue(fps), "frames": JSONValue(frames), "status": .string(status),
         "started_at": .number(startedAt), "ended_at": endedAt.map { .number($0) } ?? .null, "command_mode": .string(commandMode),
         "error": error.map { .string($0) } ?? .null]
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(id: try r.int("id"), task: try r.string("task"), fps: try r.int("fps"), frames: try r.int("frames"),
                  status: try r.string("status"), startedAt: try r.number("started_at"), endedAt: try r.optionalNumber("ended_at"),
                  commandMode: try r.string("command_mode"), error: try r.optionalString("error"))
    }
}

/// `dataset.list`: every stored episode, oldest first, and the store's file.
public struct DatasetListResult: ControlResult {
    public static let method = ControlMethod.datasetList

    public var store: String
    public var episodes: [DatasetEpisode]

    public init(store: String, episodes: [DatasetEpisode]) {
        self.store = store
        self.episodes = episodes
    }

    public var json: JSONValue { ["store": .string(store), "episodes": .array(episodes.map(\.json))] }

    public init(_ r: Params) throws(RPCError) {
        var episodes: [DatasetEpisode] = []
        for e in try r.objects("episodes") { episodes.append(try DatasetEpisode(e)) }
        self.init(store: try r.string("store"), episodes: episodes)
    }
}

/// `dataset.delete`: `{"id": N}`.
public struct DatasetDeleteParams: Sendable, Hashable {
    public var id: Int

    public init(id: Int) { self.id = id }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["id"])
        id = try p.int("id")
        guard id >= 1 else { throw p.fail("\(p.name("id")) must be a positive episode id, got \(id)") }
    }

    public var json: JSONValue { ["id": JSONValue(id)] }
}

/// `dataset.delete`'s result: the id deleted.
public struct DatasetDeleteResult: ControlResult {
    public static let method = ControlMethod.datasetDelete

    public var deleted: Int

    public init(deleted: Int) { self.deleted = deleted }

    public var json: JSONValue { ["deleted": JSONValue(deleted)] }

    public init(_ r: Params) throws(RPCError) { self.init(deleted: try r.int("deleted")) }
}
