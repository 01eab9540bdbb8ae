import ControlProtocol
import ControlSocket
import Foundation
import Glibc

/// A descriptor this process owns, closed when the last reference goes (a file a peer passed, or
/// the duplicate of a connection the server receives descriptors on).
final class OwnedDescriptor: @unchecked Sendable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// Where a file method's file comes from: a descriptor the caller opened and passed over the
/// socket (SCM_RIGHTS; docs/protocol.md, "Files"), or a path confined to `data_directory`.
enum FileSource: Sendable {
    case descriptor(OwnedDescriptor, name: String)
    case path(String)

    /// The name in results and errors: the caller's label for a descriptor, else the path.
    var name: String {
        switch self {
        case let .descriptor(_, name): name
        case let .path(p): p
        }
    }
}

/// Every file the control socket reads or writes goes through here (`policy.load`,
/// `model.load`, `model.save`), so that the checks live once:
/// - only regular files, named for what they are otherwise (a FIFO would block a read for ever,
///   a device or a directory is never a model);
/// - at most `maxFileSize` bytes, and a safetensors header length checked against the file's
///   size before anything else is read (a 2 GB sparse file is refused after 8 bytes);
/// - errors never echo the file's bytes (a refused /etc/shadow must not leak its start);
/// - paths resolve inside `data_directory` only (no `..`, no symlinks out, O_NOFOLLOW), so the
///   daemon never opens a path of a peer's choosing elsewhere; descriptors passed by `robotctl`
///   reach exactly what the calling user may.
/// All of it blocks: it runs on the server's file thread pool, never on the event loop.
enum FileAccess {
    /// Largest model or policy file (256 MiB): far above any MLP the loop can run.
    static let maxFileSize = 256 << 20
    /// Largest safetensors header, the format's own limit (100 MB).
    static let maxHeaderSize = 100_000_000
    /// How long the server waits for the descriptor after `fd.expect` (s).
    static let descriptorTimeout = 10.0

    enum Purpose: Sendable {
        case read
        case write
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

    // MARK: Sources

    /// The file of a file method: the descriptor received for this request (`"fd": true`), or
    /// a `"path"` inside data_directory.
    /// - Throws: *invalid params* when the params announce a descriptor that did not come.
    static func source(_ params: FileParams, received: OwnedDescriptor?) throws(RPCError) -> FileSource {
        switch params.source {
        case let .passed(name):
            guard let received else { throw .invalidParams("\"fd\": no file descriptor was received for this request") }
            return .descriptor(received, name: name)
        case let .path(path):
            return .path(path)
        }
    }

    /// The whole safetensors file of `source`, after the checks of `readSafeTensors(_:name:)`.
    static func readSafeTensors(_ source: FileSource, dataDirectory: String) throws(RPCError) -> [UInt8] {
        switch source {
        case let .descriptor(file, name): try readSafeTensors(file, name: name)
        case let .path(path): try readSafeTensors(try openForReading(path, dataDirectory: dataDirectory), name: path)
        }
    }

    /// Checks that `source` can be written before anything is produced for it: a passed
    /// descriptor must be a regular file open for writing, a path must not name anything but a
    /// regular file.
    static func checkWritable(_ source: FileSource, dataDirectory: String) throws(RPCError) {
        switch source {
        case let .descriptor(file, name): try check(file, name: name, for: .write)
        case let .path(path): _ = try saveTarget(path, dataDirectory: dataDirectory)
        }
    }

    /// Writes `bytes` as the whole content of `source` (see the two `write` functions below).
    static func write(_ bytes: [UInt8], to source: FileSource, dataDirectory: String) throws(RPCError) {
        switch source {
        case let .descriptor(file, name): try write(bytes, to: file, name: name)
        case let .path(path): try write(bytes, toPath: path, dataDirectory: dataDirectory)
        }
    }

    // MARK: Descriptors over the socket

    /// Receives the one byte carrying exactly one descriptor (SCM_RIGHTS) on `socket`, a dup of
    /// the connection the server's event loop has stopped reading. Anything else — no
    /// descriptor, several, a truncated control message, nothing within the timeout — is an
    /// error, and every descriptor that did arrive is closed.
    static func receiveDescriptor(on socket: Int32, timeout: Double = descriptorTimeout) throws(RPCError) -> OwnedDescriptor {
        var pfd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&pfd, 1, Int32(timeout * 1000)) } while ready < 0 && errno == EINTR
        guard ready > 0 else {
            throw .invalidParams("no file descriptor arrived within \(timeout) s after fd.expect (send one byte with an SCM_RIGHTS message holding the open file)")
        }
        var byte: UInt8 = 0
        // Room for 16 descriptors: more than one is refused, but all must be received to be closed.
        var control = [UInt8](repeating: 0, count: 16 + 16 * 4)
        let (n, flags, fds): (Int, Int32, [Int32]) = ControlMessages.withOneByteMessage(&byte, control: &control) { msg, cbuf in
            var got: Int
            repeat { got = recvmsg(socket, &msg, Int32(MSG_DONTWAIT) | Int32(MSG_CMSG_CLOEXEC)) } while got < 0 && errno == EINTR
            return (got, msg.msg_flags, got < 0 ? [] : ControlMessages.rights(cbuf, length: msg.msg_controllen))
        }
        if n < 0 { throw .invalidParams("receiving the file descriptor failed: \(errnoText(errno))") }
        guard n == 1, flags & Int32(MSG_CTRUNC) == 0, fds.count == 1 else {
            for fd in fds { close(fd) }
            if n == 0 { throw .invalidParams("the connection closed before the file descriptor arrived") }
            throw .invalidParams("expected exactly one file descriptor with one byte, got \(fds.count) descriptor(s)\(flags & Int32(MSG_CTRUNC) != 0 ? " (truncated)" : "")")
        }
        return OwnedDescriptor(fds[0])
    }

    /// Checks a passed descriptor: a regular file, opened for reading (loads) or for writing
    /// (saves: F_GETFL's access mode is O_WRONLY or O_RDWR).
    static func check(_ file: OwnedDescriptor, name: String, for purpose: Purpose) throws(RPCError) {
        var st = stat()
        guard fstat(file.fd, &st) == 0 else { throw .invalidParams("\(name): fstat failed: \(errnoText(errno))") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw .invalidParams("\(name) is \(kind(st.st_mode)), not a regular file")
        }
        let access = fcntl(file.fd, F_GETFL) & O_ACCMODE
        switch purpose {
        case .read where access == O_WRONLY:
            throw .invalidParams("\(name): the descriptor is open for writing only; open it for reading (O_RDONLY)")
        case .write where access == O_RDONLY:
            throw .invalidParams("\(name): the descriptor is open for reading only; a save needs one open for writing")
        default: break
        }
    }

    // MARK: Paths inside data_directory

    /// Resolves `path` (relative to `dataDirectory`, or absolute inside it) to its directory,
    /// opened, and its last component. Refuses `..`, an empty name, and anything whose real
    /// directory is not `dataDirectory` or below it (a symlink out counts as out).
    static func confined(_ path: String, dataDirectory: String) throws(RPCError) -> (directory: OwnedDescriptor, name: String) {
        let rootText = dataDirectory.isEmpty ? "." : dataDirectory
        guard let rootC = realpath(rootText, nil) else {
            throw .invalidParams("\"path\": data_directory \(rootText) is not usable (\(errnoText(errno))); pass the file itself instead (robotctl does)")
        }
        let root = String(cString: rootC)
        free(rootC)
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !path.isEmpty, let name = components.last, name != ".", !components.contains("..") else {
            throw .invalidParams("\"path\" \(path) must name a file in data_directory (\(root)) without \"..\"")
        }
        let joined = path.hasPrefix("/") ? path : root + "/" + path
        let parent = (joined as NSString).deletingLastPathComponent
        guard let parentC = realpath(parent.isEmpty ? "/" : parent, nil) else {
            throw .invalidParams("\"path\" \(path): its directory \(parent) is not usable (\(errnoText(errno)))")
        }
        let realParent = String(cString: parentC)
        free(parentC)
        guard realParent == root || realParent.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw .invalidParams("\"path\" \(path) is outside data_directory (\(root)); the daemon opens files by path only there. Pass the open file instead (robotctl does: params {\"fd\": true})")
        }
        let dir = open(realParent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw .invalidParams("\"path\" \(path): cannot open its directory: \(errnoText(errno))") }
        return (OwnedDescriptor(dir), name)
    }

    /// Opens a confined path for reading: never follows a final symlink, never blocks on a FIFO.
    static func openForReading(_ path: String, dataDirectory: String) throws(RPCError) -> OwnedDescriptor {
        let (dir, name) = try confined(path, dataDirectory: dataDirectory)
        let fd = openat(dir.fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP { throw .invalidParams("cannot read \(path): it is a symbolic link (not followed)") }
            throw .invalidParams("cannot read \(path): \(errnoText(e))")
        }
        return OwnedDescriptor(fd)
    }

    // MARK: Reading

    /// The whole safetensors file behind `file`, after the checks (regular, ≤ `maxFileSize`,
    /// header length within the file and the format's limit). Errors name the file and sizes,
    /// never its bytes.
    static func readSafeTensors(_ file: OwnedDescriptor, name: String) throws(RPCError) -> [UInt8] {
        try check(file, name: name, for: .read)
        var st = stat()
        guard fstat(file.fd, &st) == 0 else { throw .invalidParams("\(name): fstat failed: \(errnoText(errno))") }
        let size = Int(st.st_size)
        guard size <= maxFileSize else {
            throw .invalidParams("\(name) is \(size) bytes, over the \(maxFileSize)-byte (256 MiB) limit for model and policy files")
        }
        guard size >= 8 else {
            throw .invalidParams("\(name): not a safetensors file: \(size) bytes, shorter than the 8-byte header length")
        }
        let head = try read(file, name: name, offset: 0, count: 8)
        var n: UInt64 = 0
        for i in 0 ..< 8 { n |= UInt64(head[i]) << (8 * UInt64(i)) }
        // The value is the file's content: it is compared, never printed.
        guard n <= UInt64(maxHeaderSize), n <= UInt64(size - 8) else {
            throw .invalidParams("\(name): not a safetensors file: its first 8 bytes do not give a header length within the file's \(size) bytes and the \(maxHeaderSize)-byte header limit")
        }
        return head + (try read(file, name: name, offset: 8, count: size - 8))
    }

    private static func read(_ file: OwnedDescriptor, name: String, offset: Int, count: Int) throws(RPCError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return pread(file.fd, base + done, count - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .invalidParams("cannot read \(name): \(errnoText(errno))")
            }
            if n == 0 { throw .invalidParams("\(name): the file shrank while it was read (\(offset + done) of \(offset + count) bytes)") }
            done += n
        }
        return out
    }

    // MARK: Writing

    /// Writes `bytes` as the whole content of a passed descriptor and syncs it (the caller
    /// renames its temporary file over the target afterwards).
    static func write(_ bytes: [UInt8], to file: OwnedDescriptor, name: String) throws(RPCError) {
        try check(file, name: name, for: .write)
        guard ftruncate(file.fd, 0) == 0 else { throw .invalidParams("cannot write \(name): truncating failed: \(errnoText(errno))") }
        try writeAll(bytes, fd: file.fd, name: name)
        guard fsync(file.fd) == 0 else { throw .invalidParams("cannot write \(name): fsync failed: \(errnoText(errno))") }
    }

    /// Writes `bytes` to a confined path: only a regular file is ever replaced, through a new
    /// temporary file in the same directory (O_EXCL, fsync, rename), so a FIFO, a device, a
    /// directory or a symlink at the path is refused and left as it was.
    static func write(_ bytes: [UInt8], toPath path: String, dataDirectory: String) throws(RPCError) {
        let (dir, name) = try saveTarget(path, dataDirectory: dataDirectory)
        let temporary = ".\(name).robotd-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = openat(dir.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .invalidParams("cannot save to \(path): cannot create a temporary file next to it: \(errnoText(errno))") }
        let file = OwnedDescriptor(fd)
        do throws(RPCError) {
            try writeAll(bytes, fd: file.fd, name: path)
            guard fsync(file.fd) == 0 else { throw .invalidParams("cannot save to \(path): fsync failed: \(errnoText(errno))") }
            guard renameat(dir.fd, temporary, dir.fd, name) == 0 else {
                throw .invalidParams("cannot save to \(path): rename failed: \(errnoText(errno))")
            }
        } catch {
            unlinkat(dir.fd, temporary, 0)
            throw error
        }
    }

    /// The confined directory and name a save by path would replace, after checking that
    /// whatever is there now is a regular file (checked before the model is encoded, so the
    /// refusal names the target whatever the learner's state).
    static func saveTarget(_ path: String, dataDirectory: String) throws(RPCError) -> (directory: OwnedDescriptor, name: String) {
        let (dir, name) = try confined(path, dataDirectory: dataDirectory)
        var st = stat()
        if fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT != S_IFREG {
            throw .invalidParams("cannot save to \(path): it is \(kind(st.st_mode)); only a regular file is replaced")
        }
        return (dir, name)
    }

    private static func writeAll(_ bytes: [UInt8], fd: Int32, name: String) throws(RPCError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return pwrite(fd, base + done, bytes.count - done, off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .invalidParams("cannot write \(name): \(errnoText(errno))")
            }
            if n == 0 { throw .invalidParams("cannot write \(name): no progress after \(done) of \(bytes.count) bytes") }
            done += n
        }
    }
}
