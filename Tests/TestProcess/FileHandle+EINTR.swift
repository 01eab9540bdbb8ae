import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Pipe reads that survive EINTR. Foundation's `readDataToEndOfFile()` and `availableData` end in
/// a `try!` on Linux, so a read interrupted by a signal (children exiting all through the suite)
/// crashes the whole test process; these retry instead.
extension FileHandle {
    /// Everything until end of file.
    public func readToEndRetryingEINTR() -> Data {
        var all = Data()
        while true {
            let chunk = readSomeRetryingEINTR()
            if chunk.isEmpty { return all }
            all.append(chunk)
        }
    }

    /// What one read(2) returns (up to 64 KiB; it blocks until some data or end of file); empty at
    /// end of file or on an error other than EINTR.
    public func readSomeRetryingEINTR() -> Data {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if n > 0 { return Data(buffer[0 ..< n]) }
            if n < 0 && errno == EINTR { continue }
            return Data()
        }
    }
}
