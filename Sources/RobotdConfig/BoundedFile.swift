import Foundation

/// Reads the daemon's input files (configuration, URDF) with a size bound, refusing anything
/// that is not a regular file: `/dev/zero` or a FIFO would otherwise be read until memory runs
/// out, or forever.
public enum BoundedFile {
    /// Why a file was not read; `description` is the reason alone, for callers to prefix with
    /// the file and key.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// Larger than the bound (as opposed to missing, unreadable or not a regular file).
        public var isTooLarge: Bool
        public var description: String
    }

    /// What is wrong with reading `path` as an input of at most `limit` bytes: not a regular
    /// file, or too large. nil when it is fine or does not exist (reading reports that).
    /// Descriptions leave out the path: callers name it with its key.
    ///
    /// - Parameters:
    ///   - path: The file; symbolic links are followed.
    ///   - limit: Largest size accepted, in bytes.
    /// - Returns: The reason, or nil.
    public static func problem(at path: String, limit: Int) -> Failure? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return Failure(isTooLarge: false, description: "not a regular file (a device, directory, FIFO or socket)")
        }
        guard Int(status.st_size) <= limit else {
            return Failure(isTooLarge: true, description: "\(status.st_size) bytes, more than the limit of \(limit) bytes")
        }
        return nil
    }

    /// Reads a regular UTF-8 text file of at most `limit` bytes.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - limit: Largest size accepted, in bytes; a file that grows past it while being read is
    ///     refused too.
    /// - Returns: The text.
    /// - Throws: `Failure` saying what is wrong, without the path.
    /// - Warning: Not real-time safe.
    public static func readText(_ path: String, limit: Int) throws(Failure) -> String {
        if let problem = problem(at: path, limit: limit) { throw problem }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Failure(isTooLarge: false, description: "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw Failure(isTooLarge: false, description: "cannot read: \(error.localizedDescription)")
        }
        guard data.count <= limit else {
            throw Failure(isTooLarge: true, description: "more than the limit of \(limit) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(isTooLarge: false, description: "cannot read: not UTF-8 text")
        }
        return text
    }
}
