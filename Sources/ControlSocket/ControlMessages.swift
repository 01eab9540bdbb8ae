#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ancillary data (`struct cmsghdr` of <sys/socket.h>) laid out and walked by hand: CMSG_SPACE,
/// CMSG_FIRSTHDR and CMSG_NXTHDR are macros Swift cannot import. Layout on 64-bit Linux: size_t
/// cmsg_len, int cmsg_level, int cmsg_type, then the data, each header aligned to 8 bytes.
///
/// The client sends a file with `rights(holding:)`; the server receives it with `rights(_:length:)`
/// (docs/protocol.md, "Files"). Both move exactly one byte of data with the message.
public enum ControlMessages {
    public static let headerSize = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
    /// SCM_RIGHTS of <bits/socket.h> (an enum constant Glibc's module does not always export).
    public static let scmRights: Int32 = 1

    /// One SCM_RIGHTS message holding `descriptor`, padded to CMSG_SPACE(4).
    public static func rights(holding descriptor: Int32) -> [UInt8] {
        var control = [UInt8](repeating: 0, count: (headerSize + 4 + 7) & ~7)
        control.withUnsafeMutableBytes { c in
            c.storeBytes(of: headerSize + 4, toByteOffset: 0, as: Int.self)
            c.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
            c.storeBytes(of: scmRights, toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
            c.storeBytes(of: descriptor, toByteOffset: headerSize, as: Int32.self)
        }
        return control
    }

    /// The descriptors of every SCM_RIGHTS message in `buffer[0 ..< length]`.
    public static func rights(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> [Int32] {
        var fds: [Int32] = []
        var offset = 0
        let end = min(length, buffer.count)
        while offset + headerSize <= end {
            let len = buffer.loadUnaligned(fromByteOffset: offset, as: Int.self)
            let level = buffer.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
            let type = buffer.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
            guard len >= headerSize, offset + len <= end else { break }
            if level == SOL_SOCKET, type == scmRights {
                let count = (len - headerSize) / 4
                for i in 0 ..< count { fds.append(buffer.loadUnaligned(fromByteOffset: offset + headerSize + 4 * i, as: Int32.self)) }
            }
            offset += (len + 7) & ~7
        }
        return fds
    }

    /// Calls `body` with a `msghdr` whose one data byte is `byte` and whose ancillary buffer is
    /// `control` (also passed as a buffer, to read what `recvmsg` wrote). For `sendmsg` and
    /// `recvmsg`; the pointers are valid only inside `body`.
    public static func withOneByteMessage<R>(
        _ byte: inout UInt8, control: inout [UInt8], _ body: (inout msghdr, UnsafeMutableRawBufferPointer) -> R
    ) -> R {
        withUnsafeMutablePointer(to: &byte) { bytePointer in
            control.withUnsafeMutableBytes { buffer in
                var iov = iovec(iov_base: UnsafeMutableRawPointer(bytePointer), iov_len: 1)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var msg = msghdr()
                    msg.msg_iov = iovPointer
                    msg.msg_iovlen = 1
                    msg.msg_control = buffer.baseAddress
                    msg.msg_controllen = buffer.count
                    return body(&msg, buffer)
                }
            }
        }
    }
}
