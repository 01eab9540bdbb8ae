import CSerialPort
import Glibc
import Platform

/// A serial transport over libserialport, for real USB adapters (FTDI U2D2 on ttyUSB, CDC-ACM
/// boards on ttyACM), by device path or by a stable `/dev/serial/by-id/…` link.
///
/// Raw 8N1 at `baud`, no flow control (RTS/DTR driven on, CTS/DSR ignored, no XON/XOFF), taken
/// exclusively (`TIOCEXCL` and an exclusive `flock` on libserialport's descriptor, as
/// `PosixTTYTransport` does). Reads wait with `sp_blocking_read_next` up to the deadline.
public final class LibSerialPortTransport: SerialTransport {
    public let path: String
    public let baud: Int
    private var port: OpaquePointer?

    /// Opens the adapter at `path` (symlinks resolved first: libserialport 0.1.1 rejects names
    /// outside `/dev`).
    /// - Throws: `SerialTransportError` naming the fix.
    /// - Warning: Not real-time safe.
    public init(path: String, baud: Int) throws(SerialTransportError) {
        self.path = path
        self.baud = baud
        let device = SerialDevice.resolve(path)
        // libserialport reports a missing device as SP_ERR_ARG "Device not found"; stat first so
        // the error says what is wrong.
        var st = stat()
        if stat(device, &st) != 0 { throw .opening(path, errno: errno) }
        var p: OpaquePointer?
        guard sp_get_port_by_name(device, &p) == SP_OK, let port = p else {
            throw SerialTransportError(
                .notFound, path: path,
                message: "libserialport does not know \(path) (\(device)): \(Self.lastMessage()); "
                    + "pseudo-terminals and virtual ttys are opened with termios instead (`SerialPorts.open` chooses)")
        }
        let rc = sp_open(port, SP_MODE_READ_WRITE)
        if rc != SP_OK {
            let e = errno
            sp_free_port(port)
            if rc == SP_ERR_FAIL { throw .opening(path, errno: e) }
            throw SerialTransportError(.system(errno: e), path: path, message: "serial port \(path): sp_open failed: \(Self.lastMessage())")
        }
        self.port = port
        var fd: Int32 = -1
        if sp_get_port_handle(port, &fd) == SP_OK, fd >= 0 {
            if case let e = SerialPortLock.acquire(fd), e != 0 {
                close()
                throw .opening(path, errno: e, operation: "lock")
            }
            if ioctl(fd, UInt(TIOCEXCL)) != 0 {
                let e = errno
                close()
                throw .opening(path, errno: e, operation: "ioctl(TIOCEXCL)")
            }
        }
        let settings: [(String, sp_return)] = [
            ("baud \(baud)", sp_set_baudrate(port, Int32(clamping: baud))),
            ("8 data bits", sp_set_bits(port, 8)),
            ("no parity", sp_set_parity(port, SP_PARITY_NONE)),
            ("1 stop bit", sp_set_stopbits(port, 1)),
            ("no flow control", sp_set_flowcontrol(port, SP_FLOWCONTROL_NONE)),
        ]
        for (what, rc) in settings where rc != SP_OK {
            let message = Self.lastMessage()
            close()
            throw SerialTransportError(
                .configuration, path: path, message: "serial port \(path): the adapter refused \(what): \(message)")
        }
        sp_flush(port, SP_BUF_BOTH)
    }

    deinit { close() }

    public func close() {
        if let p = port {
            sp_close(p)
            sp_free_port(p)
            port = nil
        }
    }

    /// The corresponding C function is `sp_flush(port, SP_BUF_INPUT)`.
    public func discardInput() throws(SerialTransportError) {
        guard let port else { throw .vanished(path, detail: "the port is closed") }
        let rc = sp_flush(port, SP_BUF_INPUT)
        if rc != SP_OK { throw failure(rc, "sp_flush") }
    }

    /// The corresponding C function is `sp_blocking_write` (which retries partial writes and
    /// `EINTR` itself).
    public func write(_ bytes: UnsafeRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) {
        guard let port else { throw .vanished(path, detail: "the port is closed") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ms = Self.milliseconds(until: deadlineNanoseconds)
        let rc = sp_blocking_write(port, base, bytes.count, ms)
        if rc.rawValue < 0 { throw failure(rc, "sp_blocking_write") }
        if Int(rc.rawValue) < bytes.count {
            throw SerialTransportError(
                .writeTimeout, path: path, message: "serial port \(path): wrote \(rc.rawValue) of \(bytes.count) bytes before the deadline")
        }
    }

    /// The corresponding C functions are `sp_blocking_read_next` and `sp_nonblocking_read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) -> Int {
        guard let port else { throw .vanished(path, detail: "the port is closed") }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let now = MonotonicClock.now()
        let rc: sp_return
        if now >= deadlineNanoseconds {
            rc = sp_nonblocking_read(port, base, buffer.count)
        } else {
            // sp_blocking_read_next treats 0 ms as "wait forever": never pass 0.
            rc = sp_blocking_read_next(port, base, buffer.count, Self.milliseconds(until: deadlineNanoseconds))
        }
        if rc.rawValue < 0 { throw failure(rc, "read") }
        return Int(rc.rawValue)
    }

    private func failure(_ rc: sp_return, _ operation: String) -> SerialTransportError {
        let e = errno
        if rc == SP_ERR_FAIL { return .opening(path, errno: e, operation: operation) }
        return SerialTransportError(.system(errno: e), path: path, message: "serial port \(path): \(operation) failed: \(Self.lastMessage())")
    }

    private static func milliseconds(until deadline: UInt64) -> UInt32 {
        let now = MonotonicClock.now()
        let ns = deadline > now ? deadline - now : 0
        return UInt32(clamping: max(1, (ns + 999_999) / 1_000_000))
    }

    /// The corresponding C functions are `sp_last_error_message` / `sp_free_error_message`.
    private static func lastMessage() -> String {
        guard let m = sp_last_error_message() else { return "unknown error" }
        defer { sp_free_error_message(m) }
        return String(cString: m)
    }
}
