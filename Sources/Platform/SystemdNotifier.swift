import CSystemd
import Glibc

/// Where service-manager notifications go: systemd (`SystemdNotifier`), or a recorder in tests.
public protocol ServiceNotifier: Sendable {
    /// Sends `state` (newline-separated `KEY=value` assignments); false when nobody listens.
    @discardableResult func notify(_ state: String) -> Bool
    /// The watchdog period the manager expects, or nil when it is off.
    var watchdogInterval: Duration? { get }
}

extension ServiceNotifier {
    /// `READY=1`: start-up finished (driver active, loop running).
    @discardableResult public func ready(status: String) -> Bool { notify("READY=1\nSTATUS=\(status)") }
    /// `STATUS=…`: one line for `systemctl status`.
    @discardableResult public func status(_ text: String) -> Bool { notify("STATUS=\(text)") }
    /// `WATCHDOG=1`: the service is alive. Send only when the control loop made progress.
    @discardableResult public func watchdog() -> Bool { notify("WATCHDOG=1") }
    /// `STOPPING=1`: shutdown began.
    @discardableResult public func stopping() -> Bool { notify("STOPPING=1") }
}

/// The service manager's notification protocol (sd_notify). Every call is a no-op when the
/// process was not started by systemd with `Type=notify` (no NOTIFY_SOCKET).
public struct SystemdNotifier: ServiceNotifier {
    public init() {}

    /// Whether NOTIFY_SOCKET is set (systemd listens).
    public var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends `state` (newline-separated `KEY=value` assignments). Returns false when nobody
    /// listens or the send failed.
    /// The corresponding C function is `sd_notify`.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, state) > 0
    }

    /// The watchdog period systemd expects (WatchdogSec=), or nil when it is off. Feed at
    /// half of it.
    /// The corresponding C function is `sd_watchdog_enabled`.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    /// File descriptors passed by socket activation (LISTEN_FDS), starting at 3.
    /// The corresponding C function is `sd_listen_fds`.
    public func listenFileDescriptors() -> [Int32] {
        let n = sd_listen_fds(1)
        guard n > 0 else { return [] }
        return (0 ..< n).map { SD_LISTEN_FDS_START + $0 }
    }
}

/// Decides when to feed the watchdog: only if the control loop's tick counter advanced since
/// the last feed, so that a stalled loop lets systemd's watchdog fire (docs/architecture.md §2).
public struct WatchdogFeeder: Sendable, Equatable {
    private var lastTick: UInt64?

    public init() {}

    /// Whether to send WATCHDOG=1 now, given the loop's current tick count.
    public mutating func shouldFeed(tickCount: UInt64) -> Bool {
        defer { lastTick = tickCount }
        guard let last = lastTick else { return tickCount > 0 }
        return tickCount > last
    }
}
