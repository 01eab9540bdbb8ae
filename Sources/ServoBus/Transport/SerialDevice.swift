import Glibc

/// What a serial path is, read from the file system and sysfs, to pick a transport and to check
/// the adapter's settings. `sysfsRoot` is injectable so a test can fake `/sys`.
public struct SerialDevice: Sendable, Equatable {
    /// How the device is driven.
    public enum Kind: Sendable, Equatable {
        /// A pseudo-terminal (`/dev/pts/N`): termios only.
        case pseudoTerminal
        /// A tty with a hardware driver in sysfs (`ftdi_sio`, `cdc_acm`, `ch341`, `cp210x`, …).
        case hardware(driver: String)
        /// A tty without a device in sysfs (virtual ttys, tty0n): termios only.
        case virtual
    }

    /// The path as given.
    public let path: String
    /// The path with symlinks resolved (`/dev/serial/by-id/…` → `/dev/ttyUSB0`); the given path
    /// when it cannot be resolved.
    public let resolvedPath: String
    public let kind: Kind
    /// The FTDI latency timer in ms (`/sys/bus/usb-serial/devices/<tty>/latency_timer`), when
    /// the device has one: only `ttyUSB*` on `ftdi_sio` do; CDC-ACM and PTYs do not.
    public let latencyTimerMilliseconds: Int?

    /// Inspects `path`.
    /// - Parameter sysfsRoot: the sysfs mount, `/sys` outside tests.
    /// - Warning: Not real-time safe (file-system reads).
    public init(path: String, sysfsRoot: String = "/sys") {
        self.path = path
        let resolved = Self.resolve(path)
        resolvedPath = resolved
        let name = resolved.split(separator: "/").last.map(String.init) ?? resolved
        if resolved.hasPrefix("/dev/pts/") || resolved == "/dev/ptmx" {
            kind = .pseudoTerminal
        } else if let driver = Self.link(target: "\(sysfsRoot)/class/tty/\(name)/device/driver") {
            kind = .hardware(driver: driver.split(separator: "/").last.map(String.init) ?? driver)
        } else {
            kind = .virtual
        }
        latencyTimerMilliseconds =
            name.hasPrefix("ttyUSB")
            ? Self.readFile("\(sysfsRoot)/bus/usb-serial/devices/\(name)/latency_timer")
                .flatMap { Int($0.trimmingWhitespace) } : nil
    }

    /// Whether libserialport can open it: only ttys with a device in sysfs (hardware-notes §5).
    public var usesLibSerialPort: Bool {
        if case .hardware = kind { return true }
        return false
    }

    /// A warning naming the fix when the FTDI latency timer is above 1 ms: with the Linux default
    /// of 16 ms a short reply can wait up to 16 ms, capping the loop at tens of Hz (§6).
    public var latencyWarning: String? {
        guard let ms = latencyTimerMilliseconds, ms > 1 else { return nil }
        let name = resolvedPath.split(separator: "/").last.map(String.init) ?? resolvedPath
        return "serial port \(path): the FTDI latency timer is \(ms) ms, so each reply can wait up to \(ms) ms in the adapter; "
            + "set it to 1 ms with `echo 1 | sudo tee /sys/bus/usb-serial/devices/\(name)/latency_timer` "
            + "or for good with a udev rule in /etc/udev/rules.d/99-robotd-serial.rules: "
            + "`ACTION==\"add\", SUBSYSTEM==\"usb-serial\", DRIVER==\"ftdi_sio\", ATTR{latency_timer}=\"1\"` "
            + "(docs/servo-buses.md §3)"
    }

    /// `realpath(3)`, or `path` itself when it cannot be resolved (missing, no permission).
    static func resolve(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    private static func link(target path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

/// Opens a servo-bus port with the right transport.
public enum SerialPorts {
    /// An open port plus what the caller should log.
    public struct Opened {
        public let transport: any SerialTransport
        public let device: SerialDevice
        /// Advice for the operator (the FTDI latency timer); log each at warning level.
        public let warnings: [String]
    }

    /// Opens `path` at `baud`: termios for pseudo-terminals and virtual ttys (libserialport cannot
    /// open them on Linux), libserialport for hardware adapters.
    /// - Parameter sysfsRoot: the sysfs mount, `/sys` outside tests.
    /// - Throws: `SerialTransportError` naming the fix (missing, busy, permission).
    /// - Warning: Not real-time safe.
    public static func open(path: String, baud: Int, sysfsRoot: String = "/sys") throws(SerialTransportError) -> Opened {
        let device = SerialDevice(path: path, sysfsRoot: sysfsRoot)
        let transport: any SerialTransport =
            device.usesLibSerialPort
            ? try LibSerialPortTransport(path: path, baud: baud)
            : try PosixTTYTransport(path: path, baud: baud)
        return Opened(transport: transport, device: device, warnings: device.latencyWarning.map { [$0] } ?? [])
    }
}

/// The advisory lock that makes a port one process's (`flock(LOCK_EX | LOCK_NB)`), retried for a
/// short while: a lock can outlive its holder's `close` by the time another thread of that
/// process takes to `exec` a child it just forked (the child holds a copy of the descriptor until
/// `O_CLOEXEC` closes it), and a port released a moment ago is not "busy".
enum SerialPortLock {
    /// 0, or the errno of the last refusal after `attempts` tries `pauseMicroseconds` apart
    /// (about 0.25 s by default; EINTR is retried without counting).
    static func acquire(_ fd: Int32, attempts: Int = 50, pauseMicroseconds: UInt32 = 5_000) -> Int32 {
        var left = attempts
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return 0 }
            let e = errno
            if e == EINTR { continue }
            left -= 1
            guard e == EWOULDBLOCK, left > 0 else { return e }
            usleep(pauseMicroseconds)
        }
    }
}
