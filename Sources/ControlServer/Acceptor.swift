import Foundation
import Glibc
import Logging
import NIOCore


/// Accepts connections on its own thread and hands each to NIO (`withConnectedSocket`),
/// keeping a duplicate of its descriptor: NIO reads with read(2), which discards SCM_RIGHTS, so
/// a file passed by a peer is received with recvmsg(2) on the duplicate while NIO's reading of
/// that connection is paused (docs/protocol.md, "Files").
final class Acceptor: @unchecked Sendable {
    private let listening: Int32
    private let wake: (read: Int32, write: Int32)
    private let thread: Thread
    private let finished = DispatchSemaphore(value: 0)

    init(listening: Int32, logger: Logger,
         adopt: @escaping @Sendable (_ connection: Int32, _ side: OwnedDescriptor) -> EventLoopFuture<Channel>) throws {
        var pipeFDs: [Int32] = [0, 0]
        // accept4 and pipe2 are behind _GNU_SOURCE in Glibc's module: the flags are set after.
        guard pipe(&pipeFDs) == 0 else {
            throw ControlServer.StartError("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.listening = listening
        wake = (pipeFDs[0], pipeFDs[1])
        let wakeRead = pipeFDs[0]
        let finished = self.finished
        thread = Thread {
            defer { finished.signal() }
            while true {
                var fds = [pollfd(fd: listening, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&fds, 2, -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    logger.error("control socket: poll failed: \(String(cString: strerror(errno))); no more connections are accepted")
                    return
                }
                if fds[1].revents != 0 { return }
                let connection = accept(listening, nil, nil)
                if connection < 0 {
                    let e = errno
                    if e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED { continue }
                    logger.warning("control socket: accept failed: \(String(cString: strerror(e)))")
                    // EMFILE and the like: do not spin while descriptors are short.
                    usleep(100_000)
                    continue
                }
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) | O_NONBLOCK)
                let side = fcntl(connection, F_DUPFD_CLOEXEC, 0)
                guard side >= 0 else {
                    logger.warning("control socket: dup failed: \(String(cString: strerror(errno))); connection dropped")
                    close(connection)
                    continue
                }
                adopt(connection, OwnedDescriptor(side)).whenFailure { error in
                    logger.warning("control socket: cannot serve a connection: \(error)")
                }
            }
        }
        thread.name = "robotd-accept"
        thread.start()
    }

    /// Wakes the thread, waits for it, closes the listening socket.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        close(listening)
        close(wake.read)
        close(wake.write)
    }
}
