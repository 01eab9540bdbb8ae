import ArgumentParser
import ControlProtocol
import ControlSocket
import Foundation

/// `robotctl record start|stop|discard|list`: demonstration recording (`record.*`,
/// `dataset.list`; docs/protocol.md, "Recording").
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record demonstrations into the daemon's episode store: start, stop, discard, list.",
        discussion: """
            start --task TEXT --fps N begins an episode (frames at N per second, 1…the loop's rate, \
            decimated from the loop; any mode: teleop, policy, mpc, hold). stop ends it (every frame up to \
            the stop is stored, the episode is complete); discard ends it and deletes it. list shows the \
            stored episodes (robotd dataset export turns them into a LeRobot dataset).
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case start, stop, discard, list
    }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "start, stop, discard or list.") var action: Action
    @Option(help: "What the demonstration shows (start; the dataset's task text).") var task: String?
    @Option(help: "Frames per second (start; 1…the loop's rate).") var fps: Int?

    func validate() throws {
        if action == .start {
            guard let task, !task.isEmpty else { throw ValidationError("robotctl record start: give --task TEXT") }
            guard let fps, fps >= 1 else { throw ValidationError("robotctl record start: give --fps N (N ≥ 1)") }
        } else if task != nil || fps != nil {
            throw ValidationError("robotctl record \(action.rawValue) takes no --task or --fps (only start does)")
        }
    }

    func run() throws {
        switch action {
        case .start:
            let params = RecordStartParams(task: task ?? "", fps: fps ?? 0)
            try options.callAndPrint(ControlMethod.recordStart, params.json, as: RecordingStatusResult.self, text: Format.recording)
        case .stop:
            try options.callAndPrint(ControlMethod.recordStop, as: RecordingStatusResult.self) { r in
                "stopped: episode \(r.episode.map(String.init) ?? "?") complete, \(r.frames) frames"
            }
        case .discard:
            try options.callAndPrint(ControlMethod.recordDiscard, as: RecordingStatusResult.self) { r in
                "discarded episode \(r.episode.map(String.init) ?? "?")"
            }
        case .list:
            try options.callAndPrint(ControlMethod.datasetList, as: DatasetListResult.self, text: Format.datasets)
        }
    }
}

/// `robotctl dataset list|delete ID`: the stored episodes (`dataset.*`).
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "The daemon's stored episodes: list, delete ID.")

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case list, delete
    }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "list or delete.") var action: Action
    @Argument(help: ArgumentHelp("The episode to delete (its id in list).", valueName: "id")) var id: Int?

    func validate() throws {
        switch action {
        case .delete:
            guard let id, id >= 1 else { throw ValidationError("robotctl dataset delete: give the episode's id (robotctl record list)") }
        case .list:
            guard id == nil else { throw ValidationError("robotctl dataset list takes no id") }
        }
    }

    func run() throws {
        switch action {
        case .list:
            try options.callAndPrint(ControlMethod.datasetList, as: DatasetListResult.self, text: Format.datasets)
        case .delete:
            try options.callAndPrint(ControlMethod.datasetDelete, DatasetDeleteParams(id: id ?? 0).json, as: DatasetDeleteResult.self) { r in
                "deleted episode \(r.deleted)"
            }
        }
    }
}

extension Format {
    /// One line: what the recorder does.
    static func recording(_ r: RecordingStatusResult) -> String {
        var line: String
        if r.recording {
            line = "recording  episode \(r.episode.map(String.init) ?? "?") \"\(r.task ?? "")\" at \(r.fps.map(String.init) ?? "?") fps: \(r.frames) frames"
        } else {
            line = "recording  off"
        }
        if r.droppedTicks > 0 { line += ", \(r.droppedTicks) ticks dropped" }
        if let p99 = r.commitP99Milliseconds { line += ", commit p99 \(fixed(p99, 1)) ms" }
        if let e = r.lastError { line += " (last error: \(e))" }
        return line
    }

    /// The episodes as a table.
    static func datasets(_ r: DatasetListResult) -> String {
        if r.episodes.isEmpty { return "no episodes in \(r.store)" }
        let rows = r.episodes.map { e in
            [String(e.id), e.status, String(e.frames), String(e.fps), duration(Double(e.frames) / Double(max(1, e.fps))), e.task,
             e.error ?? ""]
        }
        return (["episodes in \(r.store):"] + table(["id", "status", "frames", "fps", "length", "task", "error"], rows,
                                                    right: [true, false, true, true, true, false, false])).joined(separator: "\n")
    }
}
