/// A byte pipe to a half-duplex servo bus: the operations the transaction layer needs and
/// nothing more, so that a real USB adapter (libserialport) and a pseudo-terminal (termios) are
/// interchangeable.
///
/// Implementations are classes that own their descriptor and close it in `deinit` (or `close()`);
/// one thread uses a transport at a time.
public protocol SerialTransport: AnyObject {
    /// The port as the caller named it (a symlink such as `/dev/serial/by-id/…` stays as given).
    var path: String { get }
    /// The configured line rate in bits per second (8N1 everywhere, so 10 bits per byte).
    var baud: Int { get }

    /// Discards everything received and not yet read: bytes in the kernel's input queue (and the
    /// adapter's, where the driver can reach it).
    /// - Throws: `SerialTransportError` (`.vanished` when the device went away).
    /// - Warning: Not real-time safe: one system call.
    func discardInput() throws(SerialTransportError)

    /// Writes all of `bytes` before `deadlineNanoseconds` (on `MonotonicClock.now()`), retrying
    /// partial writes and `EINTR`.
    /// - Throws: `.writeTimeout` when the deadline passes first, `.vanished`, `.system`.
    func write(_ bytes: UnsafeRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError)

    /// Reads what has arrived into `buffer`, waiting until at least one byte is there or the
    /// deadline (on `MonotonicClock.now()`) passes.
    /// - Returns: the number of bytes read; 0 means the deadline passed with nothing received.
    /// - Throws: `.vanished` when the device went away, `.system` for other errors.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) -> Int

    /// Closes the port; later calls throw `.vanished`. Idempotent.
    func close()
}
