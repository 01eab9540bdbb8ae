import ControlSocket
import Glibc
import Testing

/// The cmsghdr layout the server walks when a peer passes a file (docs/protocol.md, "Files").
@Suite struct ControlMessagesTests {
    /// Two SCM_RIGHTS messages laid out as the kernel does (16-byte headers, 8-byte alignment).
    @Test func controlMessagesYieldEveryDescriptor() {
        var buffer = [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { b in
            b.storeBytes(of: 16 + 8, toByteOffset: 0, as: Int.self)
            b.storeBytes(of: Int32(SOL_SOCKET), toByteOffset: 8, as: Int32.self)
            b.storeBytes(of: Int32(1), toByteOffset: 12, as: Int32.self)
            b.storeBytes(of: Int32(7), toByteOffset: 16, as: Int32.self)
            b.storeBytes(of: Int32(9), toByteOffset: 20, as: Int32.self)
            b.storeBytes(of: 16 + 4, toByteOffset: 24, as: Int.self)
            b.storeBytes(of: Int32(SOL_SOCKET), toByteOffset: 32, as: Int32.self)
            b.storeBytes(of: Int32(1), toByteOffset: 36, as: Int32.self)
            b.storeBytes(of: Int32(11), toByteOffset: 40, as: Int32.self)
            #expect(ControlMessages.rights(b, length: 44) == [7, 9, 11])
            #expect(ControlMessages.rights(b, length: 23) == [], "a truncated header yields nothing")
        }
        var sent = ControlMessages.rights(holding: 42)
        #expect(sent.count == 24, "CMSG_SPACE(4) on 64-bit Linux")
        sent.withUnsafeMutableBytes { #expect(ControlMessages.rights($0, length: $0.count) == [42]) }
    }
}
