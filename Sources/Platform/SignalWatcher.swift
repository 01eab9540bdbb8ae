import CLinuxRT
import Glibc

/// Delivers SIGTERM, SIGINT and SIGHUP to a handler on a dedicated thread (self-pipe): a C
/// handler writes the signal number to a pipe whichever thread the kernel interrupts, and the
/// watcher thread reads it and calls `handler`. Blocking the signals with `sigwait` alone is not
/// enough: OpenBLAS starts worker threads before `main`, with the signals unblocked, and a
/// SIGTERM delivered to one of them would kill the process with the default action. The control
/// thread blocks the signals itself (`RealtimeThread`), so it is never interrupted.
public final class SignalWatcher: @unchecked Sendable {
    public static let watched: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    private let readFd: Int32
    private let writeFd: Int32
    private let handler: @Sendable (Int32) -> Void

    private init(readFd: Int32, writeFd: Int32, handler: @escaping @Sendable (Int32) -> Void) {
        self.readFd = readFd
        self.writeFd = writeFd
        self.handler = handler
    }

    /// Routes the signals to the pipe, unblocks them in the calling thread and starts the
    /// waiting thread; `handler` runs on that thread, once per signal received. Call once per
    /// process, from `main`.
    public static func install(_ handler: @escaping @Sendable (Int32) -> Void) -> SignalWatcher {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed: \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let w = SignalWatcher(readFd: fds[0], writeFd: fds[1], handler: handler)
        var set = sigset_t()
        sigemptyset(&set)
        for s in watched {
            let rc = CLinuxRT_routeSignalToPipe(s, fds[1])
            precondition(rc == 0, "sigaction(\(s)) failed: \(rc)")
            sigaddset(&set, s)
        }
        // A parent may have spawned us with the signals blocked (the mask is inherited across
        // exec); they would then stay pending forever and SIGTERM would never stop the daemon.
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let me = Unmanaged<SignalWatcher>.fromOpaque(arg!).takeUnretainedValue()
            me.loop()
            return nil
        }, Unmanaged.passRetained(w).toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(tid)
        return w
    }

    private func loop() {
        "robotd-signals".withCString { _ = pthread_setname_np(pthread_self(), $0) }
        _ = CLinuxRT_blockAsyncSignals()
        var byte: UInt8 = 0
        while true {
            let n = read(readFd, &byte, 1)
            if n == 1 { handler(Int32(byte)) } else if n < 0, errno == EINTR { continue } else if n <= 0 { return }
        }
    }
}
