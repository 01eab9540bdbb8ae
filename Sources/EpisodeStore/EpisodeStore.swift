import Foundation
import Glibc
import GRDB

/// Recorded episodes in SQLite (`<data_directory>/episodes.sqlite`, WAL), through GRDB.
///
/// Two ways to open it:
/// - `.writer` (the daemon; one per file): creates or migrates the schema, and marks every
///   episode still `recording` as `incomplete` (the daemon that recorded it was killed or
///   crashed; its frames up to the last commit are kept). Crash-safe by SQLite's WAL: a
///   transaction is either wholly in the file or not at all, so a `kill -9` loses at most the
///   frames not yet committed.
/// - `.reader` (the exporter while the daemon runs): opens the file read-only and changes
///   nothing, not even a stale `recording` status.
///
/// Frames are stored one row each, keyed (episode, frame index); each vector is a BLOB of
/// little-endian IEEE-754 Float64, one per joint, so values round-trip bit-exactly.
///
/// - Warning: Not real-time safe: every call does file I/O. The recorder thread writes; the
///   socket's file threads read. Thread-safe (GRDB serialises writes; reads run beside them).
public final class EpisodeStore: Sendable {
    public enum Access: Sendable {
        case writer
        case reader
    }

    /// Test and benchmark knobs.
    public struct Options: Sendable {
        /// `PRAGMA max_page_count`: the file cannot grow past this many pages (a full disk, in tests).
        public var maxPageCount: Int?
        public init(maxPageCount: Int? = nil) { self.maxPageCount = maxPageCount }
    }

    /// The store's file name inside `data_directory`.
    public static let fileName = "episodes.sqlite"

    /// `<dataDirectory>/episodes.sqlite`.
    public static func path(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }

    public let path: String
    public let access: Access
    private let pool: DatabasePool
    /// The writer's exclusive `flock` on `<path>.lock`, held until deinit: one writer per file,
    /// so a second daemon cannot mark the first one's recording `incomplete` under it.
    private let lockDescriptor: Int32?

    /// Opens (as `.writer`: creates) the store at `path`.
    /// - Throws: `EpisodeStoreError` — `.unwritable` (the file or directory cannot be opened as
    ///   asked), `.corrupt` (not SQLite, damaged, another program's tables, a newer schema),
    ///   `.diskFull` (no room for the schema).
    public init(path: String, access: Access, options: Options = Options()) throws(EpisodeStoreError) {
        self.path = path
        self.access = access
        if access == .reader, !FileManager.default.fileExists(atPath: path) {
            throw EpisodeStoreError(.unwritable, path: path, "no episode store there (nothing has been recorded with this data_directory)")
        }
        lockDescriptor = access == .writer ? try Self.lockWriter(path) : nil
        var configuration = Configuration()
        configuration.readonly = access == .reader
        configuration.label = "episodes"
        // The recorder writes while the socket reads; a reader waits a little for a checkpoint.
        configuration.busyMode = .timeout(2)
        let maxPageCount = options.maxPageCount
        configuration.prepareDatabase { db in
            if let maxPageCount { try db.execute(sql: "PRAGMA max_page_count = \(maxPageCount)") }
            if !db.configuration.readonly {
                // WAL + NORMAL: a commit survives the process being killed (the WAL is in the
                // OS's page cache); only a power loss may drop the newest commits, never
                // corrupting the file. FULL would fsync every commit, ten times a second.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            if let fd = lockDescriptor { close(fd) }
            throw EpisodeStoreError.from(error, path: path, doing: "opening")
        }
        do {
            switch access {
            case .writer:
                let migrator = Self.migrator
                if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                    throw EpisodeStoreError(.corrupt, path: path, "written by a newer robotd (unknown schema migrations); not changed")
                }
                try migrator.migrate(pool)
                try pool.read { try Self.checkSchema($0, path: path) }
                try pool.write { db in
                    try db.execute(sql: "UPDATE episodes SET status = ?, error = COALESCE(error, ?) WHERE status = ?",
                                   arguments: [EpisodeStatus.incomplete.rawValue, Self.interruptedMessage, EpisodeStatus.recording.rawValue])
                }
            case .reader:
                try pool.read { db in
                    let migrator = Self.migrator
                    guard try migrator.hasCompletedMigrations(db) else {
                        if try migrator.hasBeenSuperseded(db) {
                            throw EpisodeStoreError(.corrupt, path: path, "written by a newer robotd (unknown schema migrations)")
                        }
                        throw EpisodeStoreError(.corrupt, path: path, "not an episode store (its schema is missing or incomplete)")
                    }
                    try Self.checkSchema(db, path: path)
                }
            }
        } catch {
            if let fd = lockDescriptor { close(fd) }
            throw EpisodeStoreError.from(error, path: path, doing: "opening")
        }
    }

    deinit {
        if let fd = lockDescriptor { close(fd) }
    }

    /// Takes the writer's lock (non-blocking).
    /// - Throws: `.inUse` when another process holds it, `.unwritable` when the lock file cannot be made.
    private static func lockWriter(_ path: String) throws(EpisodeStoreError) -> Int32 {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw EpisodeStoreError(.unwritable, path: path, "cannot create the writer's lock \(lockPath): \(String(cString: strerror(e)))")
        }
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK {
                throw EpisodeStoreError(.inUse, path: path, "another process records into this store (it holds \(lockPath)); one robotd per data_directory")
            }
            throw EpisodeStoreError(.unwritable, path: path, "cannot lock \(lockPath): \(String(cString: strerror(e)))")
        }
        return fd
    }

    /// Why an episode found `recording` at open is `incomplete`.
    public static let interruptedMessage = "the daemon stopped while recording (killed or crashed); frames up to the last commit are kept"

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1 episodes and frames") { db in
            // AUTOINCREMENT: ids are never reused, so an exported or logged id names one episode forever.
            try db.execute(sql: """
                CREATE TABLE episodes (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    task TEXT NOT NULL,
                    fps INTEGER NOT NULL,
                    joint_names TEXT NOT NULL,
                    command_mode TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    ended_at REAL,
                    status TEXT NOT NULL,
                    frame_count INTEGER NOT NULL DEFAULT 0,
                    error TEXT,
                    provenance TEXT NOT NULL
                );
                CREATE TABLE frames (
                    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
                    frame_index INTEGER NOT NULL,
                    timestamp REAL NOT NULL,
                    loop_time REAL NOT NULL,
                    position BLOB NOT NULL,
                    velocity BLOB NOT NULL,
                    effort BLOB NOT NULL,
                    action BLOB NOT NULL,
                    requested_action BLOB NOT NULL,
                    mode TEXT NOT NULL,
                    intervention INTEGER NOT NULL,
                    PRIMARY KEY (episode_id, frame_index)
                ) WITHOUT ROWID;
                """)
        }
        return m
    }

    static let episodeColumns: Set<String> = [
        "id", "task", "fps", "joint_names", "command_mode", "started_at", "ended_at", "status", "frame_count", "error", "provenance",
    ]
    static let frameColumns: Set<String> = [
        "episode_id", "frame_index", "timestamp", "loop_time", "position", "velocity", "effort", "action", "requested_action", "mode",
        "intervention",
    ]

    /// A file whose migration table claims our schema but whose tables differ is not ours.
    static func checkSchema(_ db: Database, path: String) throws {
        for (table, expected) in [("episodes", episodeColumns), ("frames", frameColumns)] {
            let columns = Set(try db.columns(in: table).map(\.name))
            guard columns == expected else {
                throw EpisodeStoreError(.corrupt, path: path,
                                        "table \(table) has columns \(columns.sorted()), an episode store's has \(expected.sorted())")
            }
        }
    }

    // MARK: - Writing

    /// Creates an episode in status `recording` and returns its id (never reused).
    /// - Throws: `EpisodeStoreError` (`.invalidArgument` for an empty task, fps < 1 or no joints).
    public func beginEpisode(task: String, fps: Int, jointNames: [String], commandMode: String, startedAt: Double,
                             provenance: EpisodeProvenance) throws(EpisodeStoreError) -> Int64 {
        guard !task.isEmpty, fps >= 1, !jointNames.isEmpty else {
            throw EpisodeStoreError(.invalidArgument, path: path, "an episode needs a task, fps ≥ 1 and joints (task \"\(task)\", fps \(fps), \(jointNames.count) joints)")
        }
        let names = Self.encodeJSON(jointNames)
        let prov = Self.encodeJSON(provenance)
        return try write("beginning an episode") { db in
            try db.execute(sql: """
                INSERT INTO episodes (task, fps, joint_names, command_mode, started_at, status, frame_count, provenance)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?)
                """, arguments: [task, fps, names, commandMode, startedAt, EpisodeStatus.recording.rawValue, prov])
            return db.lastInsertedRowID
        }
    }

    /// Appends frames to a `recording` episode in one transaction (all or none), and its frame
    /// count with them. Frames must continue the episode's frame indices (a duplicate index is
    /// refused by the primary key).
    /// - Throws: `EpisodeStoreError` (`.diskFull` when there is no room: nothing of this call
    ///   is stored, every earlier commit is; `.unknownEpisode`; `.invalidArgument` for a frame
    ///   whose vectors are not one value per joint).
    public func append(episode id: Int64, frames: [RecordedFrame]) throws(EpisodeStoreError) {
        if frames.isEmpty { return }
        try write("appending \(frames.count) frames to episode \(id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT status, joint_names FROM episodes WHERE id = ?", arguments: [id]) else {
                throw EpisodeStoreError(.unknownEpisode, path: path, "no episode \(id)")
            }
            let dof = (try? JSONDecoder().decode([String].self, from: Data((row["joint_names"] as String? ?? "").utf8)))?.count ?? -1
            let statement = try db.cachedStatement(sql: """
                INSERT INTO frames (episode_id, frame_index, timestamp, loop_time, position, velocity, effort, action,
                                    requested_action, mode, intervention)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for f in frames {
                for v in [f.position, f.velocity, f.effort, f.action, f.requestedAction] where v.count != dof {
                    throw EpisodeStoreError(.invalidArgument, path: path, "frame \(f.frameIndex): \(v.count) values for \(dof) joints")
                }
                try statement.execute(arguments: [
                    id, f.frameIndex, f.timestamp, f.loopTime, Self.blob(f.position), Self.blob(f.velocity), Self.blob(f.effort),
                    Self.blob(f.action), Self.blob(f.requestedAction), f.mode, f.intervention,
                ])
            }
            try db.execute(sql: "UPDATE episodes SET frame_count = frame_count + ? WHERE id = ?", arguments: [frames.count, id])
        }
    }

    /// Ends an episode: `status` (`.complete` after `record.stop`, `.incomplete` after a write
    /// failure), why (`error`) and the wall-clock end.
    public func finish(episode id: Int64, status: EpisodeStatus, error: String? = nil, endedAt: Double) throws(EpisodeStoreError) {
        try write("finishing episode \(id)") { db in
            try db.execute(sql: "UPDATE episodes SET status = ?, error = ?, ended_at = ? WHERE id = ?",
                           arguments: [status.rawValue, error, endedAt, id])
            guard db.changesCount == 1 else { throw EpisodeStoreError(.unknownEpisode, path: path, "no episode \(id)") }
        }
    }

    /// Deletes an episode and its frames.
    /// - Throws: `.episodeRecording` for the episode being recorded, `.unknownEpisode`.
    public func delete(episode id: Int64) throws(EpisodeStoreError) {
        try write("deleting episode \(id)") { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM episodes WHERE id = ?", arguments: [id]) else {
                throw EpisodeStoreError(.unknownEpisode, path: path, "no episode \(id)")
            }
            if status == EpisodeStatus.recording.rawValue {
                throw EpisodeStoreError(.episodeRecording, path: path, "episode \(id) is being recorded: stop or discard the recording first")
            }
            try db.execute(sql: "DELETE FROM frames WHERE episode_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM episodes WHERE id = ?", arguments: [id])
        }
    }

    private func write<T>(_ doing: String, _ body: (Database) throws -> T) throws(EpisodeStoreError) -> T {
        guard access == .writer else {
            throw EpisodeStoreError(.unwritable, path: path, "\(doing): the store is open read-only")
        }
        do {
            return try pool.write(body)
        } catch {
            throw EpisodeStoreError.from(error, path: path, doing: doing)
        }
    }

    // MARK: - Reading

    /// Every episode, oldest first, without frames.
    public func list() throws(EpisodeStoreError) -> [EpisodeSummary] {
        try read("listing episodes") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM episodes ORDER BY id").map { try self.summary($0) }
        }
    }

    /// One episode without its frames.
    public func summary(episode id: Int64) throws(EpisodeStoreError) -> EpisodeSummary {
        try read("reading episode \(id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM episodes WHERE id = ?", arguments: [id]) else {
                throw EpisodeStoreError(.unknownEpisode, path: path, "no episode \(id)")
            }
            return try self.summary(row)
        }
    }

    /// One episode with its frames in frame order, read in one snapshot (a recording in
    /// progress shows its committed frames).
    /// - Throws: `.unknownEpisode`; `.corrupt` for a value of the wrong type or shape.
    public func episode(id: Int64) throws(EpisodeStoreError) -> RecordedEpisode {
        try read("reading episode \(id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM episodes WHERE id = ?", arguments: [id]) else {
                throw EpisodeStoreError(.unknownEpisode, path: path, "no episode \(id)")
            }
            var summary = try self.summary(row)
            let dof = summary.jointNames.count
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM frames WHERE episode_id = ? ORDER BY frame_index", arguments: [id])
            var frames: [RecordedFrame] = []
            frames.reserveCapacity(summary.frameCount)
            while let r = try rows.next() {
                frames.append(try self.frame(r, dof: dof, episode: id))
            }
            // The count kept with the frames; trust the frames if they disagree.
            summary.frameCount = frames.count
            return RecordedEpisode(summary: summary, frames: frames)
        }
    }

    private func read<T>(_ doing: String, _ body: (Database) throws -> T) throws(EpisodeStoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw EpisodeStoreError.from(error, path: path, doing: doing)
        }
    }

    private func corrupt(_ what: String) -> EpisodeStoreError { EpisodeStoreError(.corrupt, path: path, what) }

    private func summary(_ row: Row) throws -> EpisodeSummary {
        guard let id = row["id"] as Int64?, let task = row["task"] as String?, let fps = row["fps"] as Int?,
              let namesText = row["joint_names"] as String?, let commandMode = row["command_mode"] as String?,
              let startedAt = row["started_at"] as Double?, let statusText = row["status"] as String?,
              let frameCount = row["frame_count"] as Int?, let provenanceText = row["provenance"] as String?
        else { throw corrupt("an episode row with a missing or mistyped value: \(row)") }
        guard let status = EpisodeStatus(rawValue: statusText) else { throw corrupt("episode \(id): unknown status \"\(statusText)\"") }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(namesText.utf8)) else {
            throw corrupt("episode \(id): joint_names is not a JSON list of strings")
        }
        let decoder = JSONDecoder()
        let provenance: EpisodeProvenance
        do {
            provenance = try decoder.decode(EpisodeProvenance.self, from: Data(provenanceText.utf8))
        } catch {
            throw corrupt("episode \(id): provenance is not valid: \(error)")
        }
        return EpisodeSummary(id: id, task: task, fps: fps, jointNames: names, commandMode: commandMode, startedAt: startedAt,
                              endedAt: row["ended_at"] as Double?, status: status, frameCount: frameCount,
                              error: row["error"] as String?, provenance: provenance)
    }

    private func frame(_ r: Row, dof: Int, episode id: Int64) throws -> RecordedFrame {
        guard let index = r["frame_index"] as Int?, let timestamp = r["timestamp"] as Double?, let loopTime = r["loop_time"] as Double?,
              let mode = r["mode"] as String?, let intervention = r["intervention"] as Int64?
        else { throw corrupt("episode \(id): a frame row with a missing or mistyped value") }
        func vector(_ column: String) throws -> [Double] {
            guard let data = r[column] as Data?, let v = Self.doubles(data), v.count == dof else {
                throw corrupt("episode \(id) frame \(index): \(column) is not \(dof) little-endian Float64 values")
            }
            return v
        }
        return RecordedFrame(frameIndex: index, timestamp: timestamp, loopTime: loopTime, position: try vector("position"),
                             velocity: try vector("velocity"), effort: try vector("effort"), action: try vector("action"),
                             requestedAction: try vector("requested_action"), mode: mode, intervention: intervention != 0)
    }

    // MARK: - Encoding

    /// Little-endian IEEE-754 binary64, one after another.
    static func blob(_ values: [Double]) -> Data {
        var d = Data(capacity: 8 * values.count)
        for x in values {
            withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) }
        }
        return d
    }

    /// The inverse of `blob`; nil unless the length is a multiple of 8.
    static func doubles(_ data: Data) -> [Double]? {
        guard data.count % 8 == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            (0 ..< data.count / 8).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
        }
    }

    static func encodeJSON<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Strings, integers and optionals only: encoding cannot fail.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
