import CLinuxRT
import Glibc

/// A pseudo-terminal pair for the emulator: the master (the emulated bus's side), an extra
/// descriptor on the slave kept open by the host, and the slave's path for clients.
///
/// Both sides are raw (`cfmakeraw`) before the path is published: otherwise the line discipline
/// mangles 0x0D, 0x11, 0x13, 0x03 and echoes (hardware-notes §5 pitfall 7). The extra slave
/// descriptor keeps the master readable when the client closes its side; without it every
/// master `read()` returns EIO until a client reopens (same pitfall).
final class PseudoTerminal {
    private(set) var master: Int32
    private var slaveKeepAlive: Int32
    let slavePath: String

    init() throws(SerialTransportError) {
        var name = [CChar](repeating: 0, count: 128)
        let fd = CLinuxRT_openPseudoTerminal(&name, UInt(name.count))
        guard fd >= 0 else {
            throw SerialTransportError(.system(errno: -fd), path: "/dev/ptmx", message: "cannot open a pseudo-terminal: \(errnoText(-fd))")
        }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard slave >= 0 else {
            let e = errno
            Glibc.close(fd)
            throw .opening(path, errno: e)
        }
        for side in [fd, slave] {
            var t = termios()
            tcgetattr(side, &t)
            cfmakeraw(&t)
            tcsetattr(side, TCSANOW, &t)
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        master = fd
        slaveKeepAlive = slave
        slavePath = path
    }

    deinit { close() }

    /// Closes both descriptors; a client's next read sees a hang-up. Idempotent.
    func close() {
        if master >= 0 { Glibc.close(master); master = -1 }
        if slaveKeepAlive >= 0 { Glibc.close(slaveKeepAlive); slaveKeepAlive = -1 }
    }
}
