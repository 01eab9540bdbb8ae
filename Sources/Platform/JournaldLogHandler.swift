import CSystemd
import Glibc
import Logging
import Synchronization

/// A swift-log handler writing structured entries to the systemd journal with
/// `sd_journal_sendv`: MESSAGE, PRIORITY (syslog level), SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC,
/// ROBOTD_LABEL and every metadata key as `ROBOTD_<KEY>` (upper-cased, non-alphanumerics → `_`),
/// so that `journalctl -u robotd ROBOTD_MODE=hold` filters by field.
public struct JournaldLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = Self.fields(level: event.level, message: "\(event.message)", label: label, metadata: merged,
                                 file: event.file, function: event.function, line: event.line)
        Self.send(fields)
    }

    /// The journal fields of one entry (pure, for tests).
    public static func fields(level: Logger.Level, message: String, label: String, metadata: Logger.Metadata,
                              file: String, function: String, line: UInt) -> [String] {
        var fields = [
            "MESSAGE=\(message)",
            "PRIORITY=\(syslogPriority(level))",
            "SYSLOG_IDENTIFIER=robotd",
            "ROBOTD_LABEL=\(label)",
            "CODE_FILE=\(file)",
            "CODE_LINE=\(line)",
            "CODE_FUNC=\(function)",
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append("ROBOTD_\(fieldName(key))=\(value)")
        }
        return fields
    }

    /// Journal field names allow A–Z, 0–9 and `_`.
    static func fieldName(_ key: String) -> String {
        String(key.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
    }

    /// syslog(3) priorities: 7 debug … 2 critical.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The corresponding C function is `sd_journal_sendv`.
    static func send(_ fields: [String]) {
        let cStrings = fields.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var iov = cStrings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0!)) }
        _ = sd_journal_sendv(&iov, Int32(iov.count))
    }
}

/// Chooses where logs go, once per process.
public enum LoggingSetup {
    public enum Target: String, Sendable {
        case auto
        case stderr
        case journald
    }

    /// Whether stderr is connected to the journal: systemd sets JOURNAL_STREAM to the
    /// `device:inode` of the stream it gave the service (the documented check).
    public static func stderrIsJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return value == "\(st.st_dev):\(st.st_ino)"
    }

    /// Bootstraps swift-log; later calls are ignored (LoggingSystem traps on a second bootstrap).
    /// - Returns: whether logs go to the journal.
    @discardableResult
    public static func bootstrap(target: Target, level: Logger.Level) -> Bool {
        let journal = target == .journald || (target == .auto && stderrIsJournal())
        once.bootstrap(journal: journal, level: level)
        return journal
    }

    private static let once = Once()

    private final class Once: @unchecked Sendable {
        private var done = false
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }

        func bootstrap(journal: Bool, level: Logger.Level) {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            guard !done else { return }
            done = true
            LogLevelControl.shared.level = level
            LoggingSystem.bootstrap { label in
                if journal {
                    return DynamicLevelHandler(inner: JournaldLogHandler(label: label))
                }
                return DynamicLevelHandler(inner: StreamLogHandler.standardError(label: label))
            }
        }
    }
}

/// The process-wide log level, changeable at run time (`log.setLevel` on the control socket).
/// Every handler bootstrapped by `LoggingSetup` reads it on each log call.
public final class LogLevelControl: Sendable {
    public static let shared = LogLevelControl()
    public static let names = Logger.Level.allCases.map(\.rawValue)

    private let raw = Atomic<Int>(Logger.Level.allCases.firstIndex(of: .info)!)

    public init() {}

    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Logger.Level.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }

    /// Sets the level by name; returns the previous level's name, or nil for an unknown name.
    public func set(_ name: String) -> String? {
        guard let l = Logger.Level(rawValue: name) else { return nil }
        let previous = level.rawValue
        level = l
        return previous
    }
}

/// A handler whose level is `LogLevelControl.shared`'s.
struct DynamicLevelHandler<Inner: LogHandler>: LogHandler {
    var inner: Inner

    var logLevel: Logger.Level {
        get { LogLevelControl.shared.level }
        set { LogLevelControl.shared.level = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
