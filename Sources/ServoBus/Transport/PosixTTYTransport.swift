import Glibc
import Platform

/// A serial transport over a plain tty descriptor: pseudo-terminals (the emulator, tests) and
/// any tty libserialport cannot open. libserialport's `sp_get_port_by_name` fails for `/dev/pts/N`
/// on Linux because it requires `/sys/class/tty/<name>` (hardware-notes §5 pitfall 1); the
/// DynamixelSDK's Linux port handler is this same plain termios design.
///
/// The port is opened `O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK` (non-blocking so that reads
/// and writes wait in `poll(2)` with a deadline, never in the kernel without one), set raw 8N1
/// without flow control (`cfmakeraw`, `CLOCAL | CREAD`, no `CRTSCTS`, no `IXON/IXOFF`,
/// VMIN = VTIME = 0), and taken exclusively: `TIOCEXCL` (later opens fail with EBUSY, except
/// for root) plus a non-blocking exclusive `flock` (which also stops a second robotd running as
/// root).
public final class PosixTTYTransport: SerialTransport {
    public let path: String
    public let baud: Int
    private var fd: Int32

    /// Opens and configures the tty at `path`.
    /// - Parameters:
    ///   - path: the device or a symlink to it.
    ///   - baud: bits per second; standard rates map to `B…` constants. A pseudo-terminal accepts
    ///     any rate and paces nothing (hardware-notes §5 pitfall 2), so an unsupported rate on a
    ///     pty is kept as a number only.
    /// - Throws: `SerialTransportError` naming the fix: `.notFound`, `.busy`, `.permissionDenied`,
    ///   `.configuration`.
    /// - Warning: Not real-time safe.
    public init(path: String, baud: Int) throws(SerialTransportError) {
        self.path = path
        self.baud = baud
        var fd: Int32
        repeat {
            fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        } while fd < 0 && errno == EINTR
        if fd < 0 { throw .opening(path, errno: errno) }
        if isatty(fd) == 0 {
            Glibc.close(fd)
            throw SerialTransportError(.configuration, path: path, message: "\(path) is not a serial port (not a tty)")
        }
        if case let e = SerialPortLock.acquire(fd), e != 0 {
            Glibc.close(fd)
            throw .opening(path, errno: e, operation: "lock")
        }
        if ioctl(fd, UInt(TIOCEXCL)) != 0 {
            let e = errno
            Glibc.close(fd)
            throw .opening(path, errno: e, operation: "ioctl(TIOCEXCL)")
        }
        do throws(SerialTransportError) {
            try Self.configureRaw(fd: fd, baud: baud, path: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        // Bytes that arrived before we owned the port belong to nobody.
        tcflush(fd, TCIOFLUSH)
    }

    deinit { close() }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// `cfmakeraw` plus 8N1, no flow control, receiver on, modem lines ignored, VMIN = VTIME = 0.
    static func configureRaw(fd: Int32, baud: Int, path: String) throws(SerialTransportError) {
        var t = termios()
        if tcgetattr(fd, &t) != 0 { throw .opening(path, errno: errno, operation: "tcgetattr") }
        cfmakeraw(&t)
        t.c_cflag &= ~(tcflag_t(CSIZE) | tcflag_t(PARENB) | tcflag_t(CSTOPB) | tcflag_t(CRTSCTS))
        t.c_cflag |= tcflag_t(CS8) | tcflag_t(CLOCAL) | tcflag_t(CREAD)
        t.c_iflag &= ~(tcflag_t(IXON) | tcflag_t(IXOFF) | tcflag_t(IXANY))
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        if let speed = Self.speedConstant(baud) {
            cfsetispeed(&t, speed)
            cfsetospeed(&t, speed)
        }
        if tcsetattr(fd, TCSANOW, &t) != 0 {
            throw SerialTransportError(
                .configuration, path: path, message: "serial port \(path): cannot set raw 8N1 at \(baud) baud: \(errnoText(errno))")
        }
    }

    /// The `B…` constant for a standard rate; nil for others (custom rates need `TCSETS2`,
    /// which real adapters get from `LibSerialPortTransport`).
    static func speedConstant(_ baud: Int) -> speed_t? {
        switch baud {
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115_200: return speed_t(B115200)
        case 230_400: return speed_t(B230400)
        case 460_800: return speed_t(B460800)
        case 500_000: return speed_t(B500000)
        case 576_000: return speed_t(B576000)
        case 921_600: return speed_t(B921600)
        case 1_000_000: return speed_t(B1000000)
        case 2_000_000: return speed_t(B2000000)
        case 3_000_000: return speed_t(B3000000)
        case 4_000_000: return speed_t(B4000000)
        default: return nil
        }
    }

    /// The descriptor, for callers that need to `poll` it with other descriptors.
    public func withFileDescriptor<R>(_ body: (Int32) throws -> R) rethrows -> R { try body(fd) }

    public func discardInput() throws(SerialTransportError) {
        guard fd >= 0 else { throw .vanished(path, detail: "the port is closed") }
        if tcflush(fd, TCIFLUSH) != 0 {
            throw .opening(path, errno: errno, operation: "tcflush")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) {
        guard fd >= 0 else { throw .vanished(path, detail: "the port is closed") }
        try Self.writeAll(
            fd: fd, bytes, deadlineNanoseconds: deadlineNanoseconds, path: path,
            write: { fd, p, n in Glibc.write(fd, p, n) },
            waitWritable: { fd, ms in Self.pollOnce(fd: fd, events: Int16(POLLOUT), timeoutMilliseconds: ms) })
    }

    /// The whole-packet write loop, with its system calls injectable so that a test can force
    /// partial writes, `EINTR` and `EAGAIN`.
    /// - Parameters:
    ///   - write: `write(2)`: bytes written, or -1 with `errno` set.
    ///   - waitWritable: waits until `fd` is writable or the timeout (ms) passes; returns the
    ///     `revents` (0 on timeout), or -1 with `errno` set.
    static func writeAll(
        fd: Int32, _ bytes: UnsafeRawBufferPointer, deadlineNanoseconds: UInt64, path: String,
        write: (Int32, UnsafeRawPointer, Int) -> Int,
        waitWritable: (Int32, Int32) -> Int32
    ) throws(SerialTransportError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n > 0 {
                done += n
                continue
            }
            let e = n < 0 ? errno : EAGAIN
            switch e {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                let now = MonotonicClock.now()
                guard now < deadlineNanoseconds else {
                    throw SerialTransportError(
                        .writeTimeout, path: path,
                        message: "serial port \(path): wrote \(done) of \(bytes.count) bytes before the deadline (nobody is reading the other end)")
                }
                let r = waitWritable(fd, Self.milliseconds(until: deadlineNanoseconds, from: now))
                if r < 0 {
                    if errno == EINTR { continue }
                    throw .opening(path, errno: errno, operation: "poll")
                }
                if r & Int32(POLLERR | POLLHUP | POLLNVAL) != 0 && r & Int32(POLLOUT) == 0 {
                    throw .vanished(path, detail: "the line hung up while writing")
                }
            default:
                throw .opening(path, errno: e, operation: "write")
            }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) -> Int {
        guard fd >= 0 else { throw .vanished(path, detail: "the port is closed") }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n > 0 { return n }
            if n == 0 {
                // A tty read of 0 with VMIN = 0 means "nothing yet"; a hung-up pty says so in poll.
            } else {
                let e = errno
                if e == EINTR { continue }
                if e != EAGAIN && e != EWOULDBLOCK { throw .opening(path, errno: e, operation: "read") }
            }
            let now = MonotonicClock.now()
            if now >= deadlineNanoseconds { return 0 }
            let r = Self.pollOnce(fd: fd, events: Int16(POLLIN), timeoutMilliseconds: Self.milliseconds(until: deadlineNanoseconds, from: now))
            if r < 0 {
                if errno == EINTR { continue }
                throw .opening(path, errno: errno, operation: "poll")
            }
            if r & Int32(POLLIN) == 0 && r & Int32(POLLERR | POLLHUP | POLLNVAL) != 0 {
                throw .vanished(path, detail: "the line hung up")
            }
        }
    }

    /// One `poll(2)` on one descriptor: the `revents`, 0 on timeout, or -1 with `errno` set.
    static func pollOnce(fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Int32 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        let r = poll(&p, 1, timeoutMilliseconds)
        return r <= 0 ? r : Int32(p.revents)
    }

    /// Whole milliseconds to wait for `deadline`, rounded up so a wait never ends early; ≥ 1.
    static func milliseconds(until deadline: UInt64, from now: UInt64) -> Int32 {
        let ns = deadline > now ? deadline - now : 0
        return Int32(clamping: max(1, (ns + 999_999) / 1_000_000))
    }
}
