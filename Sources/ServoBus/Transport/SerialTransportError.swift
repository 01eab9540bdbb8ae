/// Why a serial port could not be opened or used. Every description names the path and, where
/// there is one, the fix a person at the bench can apply.
///
/// Equality compares the code and the path only (the message carries errno text and hints).
public struct SerialTransportError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kinds of failure callers branch on.
    public enum Code: Hashable, Sendable {
        /// Nothing exists at the path (ENOENT, or libserialport does not know the device).
        case notFound
        /// Another process holds the port (TIOCEXCL / an exclusive `flock`, EBUSY).
        case busy
        /// EACCES/EPERM: the user may not open the device.
        case permissionDenied
        /// The device went away while open (unplugged adapter, emulator stopped): EIO, ENXIO,
        /// ENODEV, POLLHUP or POLLERR.
        case vanished
        /// A write could not finish before its deadline (the other side does not drain).
        case writeTimeout
        /// The baud rate or line settings were refused.
        case configuration
        /// Any other system error, with its errno value.
        case system(errno: Int32)
    }

    public let code: Code
    /// The port as the caller named it.
    public let path: String
    /// What happened, with the fix where there is one.
    public let message: String

    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { message }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code && a.path == b.path }
    public func hash(into h: inout Hasher) {
        h.combine(code)
        h.combine(path)
    }

    /// Maps an errno from `open`/`ioctl`/`flock` on `path` to the error with its fix.
    static func opening(_ path: String, errno code: Int32, operation: String = "open") -> SerialTransportError {
        switch code {
        case ENOENT, ENOTDIR:
            return SerialTransportError(
                .notFound, path: path,
                message: "serial port \(path) does not exist: check that the adapter is plugged in and the path is right "
                    + "(`ls -l /dev/serial/by-id/` lists USB adapters by a stable name; an emulator's link exists only while `robotd emulate` runs)")
        case EBUSY, EWOULDBLOCK:
            return SerialTransportError(
                .busy, path: path,
                message: "serial port \(path) is busy: another process holds it open (find it with `fuser -v \(path)` "
                    + "and stop it; a second robotd, `robotd emulate` client or a Python SDK script are the usual holders)")
        case EACCES, EPERM:
            return SerialTransportError(
                .permissionDenied, path: path,
                message: "permission denied opening serial port \(path): add your user to the dialout group "
                    + "(`sudo usermod -aG dialout $USER`, then log out and in) or install a udev rule such as "
                    + "`SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"0403\", MODE=\"0660\", GROUP=\"dialout\"` in /etc/udev/rules.d/ (docs/servo-buses.md §3)")
        case EIO, ENXIO, ENODEV:
            return vanished(path, detail: "\(operation) failed: \(errnoText(code))")
        default:
            return SerialTransportError(.system(errno: code), path: path, message: "serial port \(path): \(operation) failed: \(errnoText(code))")
        }
    }

    static func vanished(_ path: String, detail: String) -> SerialTransportError {
        SerialTransportError(
            .vanished, path: path,
            message: "serial port \(path) went away (\(detail)): the adapter was unplugged or the emulator stopped; "
                + "reconnect it and reopen the port")
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: s)) (errno \(code))"
}
