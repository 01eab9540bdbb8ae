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

    /// - Parameter bitsPerSecond: the line rate the slave starts at (what a client that sets
    ///   none reads and sends at); a rate with no `B` constant leaves the pty's default.
    init(bitsPerSecond: Int = 1_000_000) throws(SerialTransportError) {
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
            if let speed = Self.speeds.first(where: { $0.1 == bitsPerSecond })?.0 {
                cfsetispeed(&t, speed)
                cfsetospeed(&t, speed)
            }
            tcsetattr(side, TCSANOW, &t)
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        master = fd
        slaveKeepAlive = slave
        slavePath = path
    }

    deinit { close() }

    /// The line rate the client last set on the slave (bits/s), read through the keep-alive
    /// descriptor: a pty carries bytes at any rate, but its termios keeps the speed a client set
    /// (`tcsetattr`), which is the rate a real adapter would put on the wire. nil when it cannot
    /// be read or is not a standard rate (BOTHER).
    func lineRate() -> Int? {
        guard slaveKeepAlive >= 0 else { return nil }
        var t = termios()
        guard tcgetattr(slaveKeepAlive, &t) == 0 else { return nil }
        let speed = cfgetospeed(&t)
        return Self.speeds.first { $0.0 == speed }?.1
    }

    /// The Linux `B` constants of the rates servo buses use, with their bits per second.
    static let speeds: [(speed_t, Int)] = [
        (speed_t(B9600), 9600), (speed_t(B19200), 19_200), (speed_t(B38400), 38_400),
        (speed_t(B57600), 57_600), (speed_t(B115200), 115_200), (speed_t(B230400), 230_400),
        (speed_t(B460800), 460_800), (speed_t(B500000), 500_000), (speed_t(B576000), 576_000),
        (speed_t(B921600), 921_600), (speed_t(B1000000), 1_000_000), (speed_t(B1152000), 1_152_000),
        (speed_t(B1500000), 1_500_000), (speed_t(B2000000), 2_000_000), (speed_t(B2500000), 2_500_000),
        (speed_t(B3000000), 3_000_000), (speed_t(B3500000), 3_500_000), (speed_t(B4000000), 4_000_000),
    ]

    /// Closes both descriptors; a client's next read sees a hang-up. Idempotent.
    func close() {
        if master >= 0 { Glibc.close(master); master = -1 }
        if slaveKeepAlive >= 0 { Glibc.close(slaveKeepAlive); slaveKeepAlive = -1 }
    }
}
