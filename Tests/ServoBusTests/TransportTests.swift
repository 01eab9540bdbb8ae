import Glibc
import Platform
import Testing
@testable import ServoBus

@Suite struct TransportTests {
    @Test func aMissingPortNamesTheFix() {
        let error = #expect(throws: SerialTransportError.self) {
            _ = try SerialPorts.open(path: "/nonexistent/ttyUSB9", baud: 1_000_000)
        }
        #expect(error?.code == .notFound)
        #expect(error?.description.contains("/nonexistent/ttyUSB9") == true)
        #expect(error?.description.contains("/dev/serial/by-id") == true)
    }

    @Test(.enabled(if: getuid() != 0, "runs as root, which bypasses file permissions; the message is checked in permissionMessageNamesDialoutAndUdev"))
    func aPortWithoutPermissionNamesDialout() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/ttyNOPE"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        chmod(path, 0)
        let error = #expect(throws: SerialTransportError.self) { _ = try PosixTTYTransport(path: path, baud: 1_000_000) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.description.contains("dialout") == true)
    }

    @Test func permissionMessageNamesDialoutAndUdev() {
        let error = SerialTransportError.opening("/dev/ttyUSB0", errno: EACCES)
        #expect(error.code == .permissionDenied)
        #expect(error.description.contains("dialout"))
        #expect(error.description.contains("udev"))
        #expect(SerialTransportError.opening("/dev/ttyUSB0", errno: EBUSY).description.contains("fuser"))
    }

    @Test func aSecondOpenOfAPortIsBusy() throws {
        let host = try EmulatorHost(responder: EchoResponder(), configuration: .init())
        defer { host.stop() }
        let first = try PosixTTYTransport(path: host.slavePath, baud: 1_000_000)
        defer { first.close() }
        let error = #expect(throws: SerialTransportError.self) { _ = try PosixTTYTransport(path: host.slavePath, baud: 1_000_000) }
        #expect(error?.code == .busy)
        #expect(error?.description.contains("another process") == true)
    }

    /// A port whose previous owner lets go moments later (its lock held on by a forked child
    /// until exec) is taken, not refused as busy; one held on stays busy.
    @Test func aLockReleasedMomentsLaterIsTakenOneHeldStaysBusy() throws {
        let path = "/tmp/robotd-lock-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let holder = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        let taker = open(path, O_RDWR | O_CLOEXEC)
        defer { close(holder); close(taker); unlink(path) }
        #expect(holder >= 0 && taker >= 0)
        #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)
        #expect(SerialPortLock.acquire(taker, attempts: 3, pauseMicroseconds: 1_000) == EWOULDBLOCK)
        // Released by another thread after the taker's first refusal: the retries take it.
        var plain = RealtimeThread.Options()
        (plain.priority, plain.lockMemory, plain.name) = (nil, false, "test-unlock")
        let released = RealtimeThread.start(options: plain) { _ in usleep(20_000); _ = flock(holder, LOCK_UN) }
        #expect(SerialPortLock.acquire(taker, attempts: 10_000, pauseMicroseconds: 1_000) == 0)
        released.join()
        #expect(flock(holder, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK, "the taker holds it now")
    }

    @Test func aFileThatIsNotATtyIsRefused() throws {
        let error = #expect(throws: SerialTransportError.self) { _ = try PosixTTYTransport(path: "/dev/null", baud: 1_000_000) }
        #expect(error?.code == .configuration)
    }

    @Test func discardInputDropsWhatArrivedBefore() throws {
        let pty = try PseudoTerminal()
        let port = try PosixTTYTransport(path: pty.slavePath, baud: 1_000_000)
        defer { port.close() }
        var junk: [UInt8] = [1, 2, 3, 0x0D, 0x11, 0x13, 0x03]
        #expect(write(pty.master, &junk, junk.count) == junk.count)
        usleep(20_000)
        try port.discardInput()
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = try buffer.withUnsafeMutableBytes { try port.read(into: $0, deadlineNanoseconds: MonotonicClock.now() + 30_000_000) }
        #expect(n == 0)
        // Raw mode both ways: control characters arrive unchanged.
        #expect(write(pty.master, &junk, junk.count) == junk.count)
        var got: [UInt8] = []
        let deadline = MonotonicClock.now() + 2_000_000_000
        while got.count < junk.count {
            let k = try buffer.withUnsafeMutableBytes { try port.read(into: $0, deadlineNanoseconds: deadline) }
            if k == 0 { break }
            got += buffer[0..<k]
        }
        #expect(got == junk)
    }

    /// The write loop with injected system calls: at most 3 bytes per write, EINTR and EAGAIN
    /// in between; everything arrives, in order.
    @Test func partialWritesAndInterruptsAreRetried() throws {
        let packet = (0..<50).map { UInt8($0) }
        var written: [UInt8] = []
        var calls = 0
        var waits = 0
        try packet.withUnsafeBytes { bytes in
            try PosixTTYTransport.writeAll(
                fd: 99, bytes, deadlineNanoseconds: MonotonicClock.now() + 10_000_000_000, path: "fake",
                write: { _, p, n in
                    calls += 1
                    switch calls % 4 {
                    case 1: errno = EINTR; return -1
                    case 2: errno = EAGAIN; return -1
                    default:
                        let k = min(3, n)
                        written += UnsafeRawBufferPointer(start: p, count: k)
                        return k
                    }
                },
                waitWritable: { _, _ in waits += 1; return Int32(POLLOUT) })
        }
        #expect(written == packet)
        #expect(waits > 0)
    }

    @Test func aWriteThatNeverDrainsTimesOut() {
        let packet = [UInt8](repeating: 0, count: 10)
        let error = #expect(throws: SerialTransportError.self) {
            try packet.withUnsafeBytes { bytes in
                try PosixTTYTransport.writeAll(
                    fd: 99, bytes, deadlineNanoseconds: MonotonicClock.now() + 20_000_000, path: "fake",
                    write: { _, _, _ in errno = EAGAIN; return -1 },
                    waitWritable: { _, ms in usleep(useconds_t(ms) * 1000); return 0 })
            }
        }
        #expect(error?.code == .writeTimeout)
    }
}

@Suite struct SerialDeviceTests {
    /// A fake sysfs with an FTDI adapter at ttyUSB7 (latency timer `value`) and a CDC-ACM board.
    func fakeSysfs(latency value: String) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let root = dir.path
        for d in ["bus/usb-serial/devices/ttyUSB7", "bus/usb-serial/drivers/ftdi_sio", "class/tty/ttyUSB7/device",
                  "class/tty/ttyACM0/device", "bus/usb/drivers/cdc_acm"] {
            try makeDirectories(root + "/" + d)
        }
        let fd = open(root + "/bus/usb-serial/devices/ttyUSB7/latency_timer", O_CREAT | O_WRONLY, 0o644)
        _ = value.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        symlink("../../../../bus/usb-serial/drivers/ftdi_sio", root + "/class/tty/ttyUSB7/device/driver")
        symlink("../../../../bus/usb/drivers/cdc_acm", root + "/class/tty/ttyACM0/device/driver")
        return dir
    }

    func makeDirectories(_ path: String) throws {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
    }

    @Test func anFTDILatencyTimerAbove1msWarnsWithTheFix() throws {
        let sys = try fakeSysfs(latency: "16\n")
        defer { sys.remove() }
        let device = SerialDevice(path: "/dev/ttyUSB7", sysfsRoot: sys.path)
        #expect(device.kind == .hardware(driver: "ftdi_sio"))
        #expect(device.usesLibSerialPort)
        #expect(device.latencyTimerMilliseconds == 16)
        let warning = try #require(device.latencyWarning)
        #expect(warning.contains("16 ms"))
        #expect(warning.contains("/sys/bus/usb-serial/devices/ttyUSB7/latency_timer"))
        #expect(warning.contains("udev"))
    }

    @Test func a1msLatencyTimerAndCDCACMBoardsDoNotWarn() throws {
        let sys = try fakeSysfs(latency: "1\n")
        defer { sys.remove() }
        #expect(SerialDevice(path: "/dev/ttyUSB7", sysfsRoot: sys.path).latencyWarning == nil)
        let acm = SerialDevice(path: "/dev/ttyACM0", sysfsRoot: sys.path)
        #expect(acm.kind == .hardware(driver: "cdc_acm"))
        #expect(acm.latencyTimerMilliseconds == nil)
        #expect(acm.latencyWarning == nil)
    }

    @Test func pseudoTerminalsUseTermiosEvenThroughALink() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let host = try EmulatorHost(responder: EchoResponder(), configuration: .init(linkPath: dir.path + "/a/b/so101.tty"))
        defer { host.stop() }
        let device = SerialDevice(path: dir.path + "/a/b/so101.tty")
        #expect(device.kind == .pseudoTerminal)
        #expect(device.resolvedPath == host.slavePath)
        #expect(!device.usesLibSerialPort)
        let opened = try SerialPorts.open(path: dir.path + "/a/b/so101.tty", baud: 1_000_000)
        #expect(opened.warnings.isEmpty)
        opened.transport.close()
    }
}

@Suite struct EmulatorLinkTests {
    @Test func theLinkIsCreatedReplacedWhenStaleAndRemovedOnStop() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let link = dir.path + "/run/koch.tty"
        mkdir(dir.path + "/run", 0o755)
        symlink("/dev/pts/nonexistent-stale", link)
        let host = try EmulatorHost(responder: EchoResponder(), configuration: .init(linkPath: link))
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(link, &buffer, 255)
        #expect(n > 0)
        #expect(String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self) == host.slavePath)
        host.stop()
        #expect(!exists(link))
    }

    @Test func aLinkPathHoldingAFileIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/file.tty"
        close(open(path, O_CREAT | O_WRONLY, 0o644))
        let error = #expect(throws: SerialTransportError.self) {
            _ = try EmulatorHost(responder: EchoResponder(), configuration: .init(linkPath: path))
        }
        #expect(error?.description.contains("not a symlink") == true)
        #expect(exists(path))
    }

    @Test func theDefaultLinkIsUnderRun() {
        #expect(EmulatorHostConfiguration.defaultLinkPath(arm: "so101") == "./run/so101.tty")
    }
}

/// libserialport on a real UART when the machine has one (a VM's 8250 `ttyS0` with nothing
/// attached): open, line settings, flush, a deadline read of nothing, a write into the void.
/// Pseudo-terminals cannot exercise this transport (hardware-notes §5 pitfall 1).
@Suite struct LibSerialPortTransportTests {
    static var uart: String? {
        let path = "/dev/ttyS0"
        guard SerialDevice(path: path).usesLibSerialPort else { return nil }
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var t = termios()
        return tcgetattr(fd, &t) == 0 ? path : nil
    }

    @Test(.enabled(if: uart != nil, "no UART that libserialport can open (ttyS0 absent or without hardware)"))
    func opensAUARTAndTimesOutReadingNothing() throws {
        let path = try #require(Self.uart)
        let opened = try SerialPorts.open(path: path, baud: 115_200)
        defer { opened.transport.close() }
        #expect(opened.transport is LibSerialPortTransport)
        try opened.transport.discardInput()
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = try buffer.withUnsafeMutableBytes { try opened.transport.read(into: $0, deadlineNanoseconds: MonotonicClock.now() + 30_000_000) }
        #expect(n == 0)
        try [UInt8](arrayLiteral: 0xFF, 0xFF, 0x01).withUnsafeBytes {
            try opened.transport.write($0, deadlineNanoseconds: MonotonicClock.now() + 1_000_000_000)
        }
        // A second open is refused while the first holds the port.
        let error = #expect(throws: SerialTransportError.self) { _ = try LibSerialPortTransport(path: path, baud: 115_200) }
        #expect(error?.code == .busy)
    }
}
