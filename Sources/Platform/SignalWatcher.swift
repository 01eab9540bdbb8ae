import CLinuxRT
import Glibc

/// Delivers SIGTERM, SIGINT and SIGHUP to a handler on a dedicated thread. `install()` blocks
/// these signals in the calling thread, so it must run in `main` before any other thread is
/// created (threads inherit the mask): the kernel then queues them for `sigwait` instead of
/// interrupting an arbitrary thread — least of all the control thread.
public final class SignalWatcher: @unchecked Sendable {
    public static let watched: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    private var set = sigset_t()
    private var thread: pthread_t?
    private let handler: @Sendable (Int32) -> Void

    private init(handler: @escaping @Sendable (Int32) -> Void) {
        self.handler = handler
        sigemptyset(&set)
        for s in Self.watched { sigaddset(&set, s) }
    }

    /// Blocks the signals and starts the waiting thread; `handler` runs on that thread.
    public static func install(_ handler: @escaping @Sendable (Int32) -> Void) -> SignalWatcher {
        let w = SignalWatcher(handler: handler)
        pthread_sigmask(SIG_BLOCK, &w.set, nil)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let me = Unmanaged<SignalWatcher>.fromOpaque(arg!).takeUnretainedValue()
            me.loop()
            return nil
        }, Unmanaged.passRetained(w).toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        w.thread = tid
        return w
    }

    private func loop() {
        "robotd-signals".withCString { _ = pthread_setname_np(pthread_self(), $0) }
        while true {
            var signal: Int32 = 0
            guard sigwait(&set, &signal) == 0 else { continue }
            handler(signal)
        }
    }
}
