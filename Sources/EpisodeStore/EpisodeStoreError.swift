import GRDB

/// Why the episode store failed, naming the file and the cause. Equality compares codes only.
public struct EpisodeStoreError: Error, Hashable, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: String, Hashable, Sendable {
            case diskFull = "disk full"
            case unwritable = "not writable"
            case corrupt = "corrupt"
            case unknownEpisode = "unknown episode"
            case episodeRecording = "episode being recorded"
            case invalidArgument = "invalid argument"
            case inUse = "in use"
            case io = "I/O error"
        }
        let kind: Kind
        /// The disk (or `PRAGMA max_page_count`) is full: the write that hit it was rolled back;
        /// every earlier commit is kept.
        public static let diskFull = Code(kind: .diskFull)
        /// The file or its directory cannot be opened or written (permissions, a read-only file
        /// system, a file opened read-only).
        public static let unwritable = Code(kind: .unwritable)
        /// Not an episode store: not SQLite, damaged, another program's database, a newer schema,
        /// or values of the wrong shape.
        public static let corrupt = Code(kind: .corrupt)
        /// No episode has that id.
        public static let unknownEpisode = Code(kind: .unknownEpisode)
        /// The episode is being recorded (it cannot be deleted until it ends).
        public static let episodeRecording = Code(kind: .episodeRecording)
        /// The caller passed a value the store cannot keep (empty task, fps < 1, ragged frames).
        public static let invalidArgument = Code(kind: .invalidArgument)
        /// Another process has the store open as its writer (another robotd on the same
        /// `data_directory`).
        public static let inUse = Code(kind: .inUse)
        /// Any other SQLite failure (busy, interrupted, I/O).
        public static let io = Code(kind: .io)

        public var description: String { kind.rawValue }
    }

    public var code: Code
    /// The database file.
    public var path: String
    public var message: String

    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "episode store \(path): \(code): \(message)" }

    public static func == (a: EpisodeStoreError, b: EpisodeStoreError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Classifies what SQLite (through GRDB) reported; `doing` says what the store was doing.
    static func from(_ error: any Error, path: String, doing: String) -> EpisodeStoreError {
        if let e = error as? EpisodeStoreError { return e }
        guard let db = error as? DatabaseError else {
            return EpisodeStoreError(.io, path: path, "\(doing): \(error)")
        }
        let detail = db.message ?? "\(db.resultCode)"
        switch db.resultCode {
        case .SQLITE_FULL:
            return EpisodeStoreError(.diskFull, path: path, "\(doing): the disk is full (\(detail))")
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return EpisodeStoreError(.unwritable, path: path, "\(doing): cannot open or write the file (\(detail))")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT, .SQLITE_SCHEMA, .SQLITE_MISMATCH:
            return EpisodeStoreError(.corrupt, path: path, "\(doing): not a valid episode store (\(detail))")
        case .SQLITE_ERROR:
            // A statement that does not fit the file's tables: another program's database.
            return EpisodeStoreError(.corrupt, path: path, "\(doing): the file's tables are not an episode store's (\(detail))")
        default:
            return EpisodeStoreError(.io, path: path, "\(doing): \(detail)")
        }
    }
}
