import Foundation
import LeRobotExport

/// Writes an export's files under a directory so that a reader never sees a half-written file
/// and a partial export never looks complete (datasets-and-imitation.md §1.12): each file is
/// written and fsynced under a temporary name beside its final one, then renamed; the files go
/// in the order given, whose last is `meta/info.json` (LeRobot reads nothing without it).
///
/// A non-empty directory is refused unless `force`; then the old `meta/info.json` goes first
/// (the old dataset stops loading), then LeRobot's trees (`data`, `meta`, `videos`, `images`),
/// so no stale data file is globbed into the new dataset. Other entries are left alone.
public enum DatasetDirectory {
    /// The trees an export owns and `force` replaces.
    static let ownedEntries = ["data", "meta", "videos", "images"]

    /// - Throws: `.outputDirectory` (a file, not empty without `force`, cannot be created) or
    ///   `.io` (a write or rename failed; the path and the system's reason in the message).
    public static func write(_ files: [LeRobotExportFile], to directory: String, force: Bool) throws(DatasetExportError) {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: root.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw DatasetExportError(.outputDirectory, "\(directory) exists and is not a directory")
            }
            let entries = (try? fm.contentsOfDirectory(atPath: root.path)) ?? []
            if !entries.isEmpty {
                guard force else {
                    throw DatasetExportError(.outputDirectory, "\(directory) is not empty (\(entries.count) entries); choose an empty or new directory, or --force to replace the dataset in it")
                }
                try remove(root.appendingPathComponent("meta/info.json"))
                for entry in ownedEntries where entries.contains(entry) {
                    try remove(root.appendingPathComponent(entry))
                }
            }
        }
        do {
            try fm.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw DatasetExportError(.outputDirectory, "cannot create \(directory): \(reason(error))")
        }
        for file in files {
            try writeAtomically(file.bytes, to: root.appendingPathComponent(file.relativePath), shown: file.relativePath)
        }
    }

    static func remove(_ url: URL) throws(DatasetExportError) {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw DatasetExportError(.io, "cannot remove the old \(url.path): \(reason(error))")
        }
    }

    /// `<name>.partial` written and fsynced, then renamed over `<name>`.
    static func writeAtomically(_ bytes: [UInt8], to url: URL, shown: String) throws(DatasetExportError) {
        let fm = FileManager.default
        let partial = url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".partial")
        do {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard fm.createFile(atPath: partial.path, contents: nil) else {
                throw DatasetExportError(.io, "cannot create \(partial.path)")
            }
            let handle = try FileHandle(forWritingTo: partial)
            defer { try? handle.close() }
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
        } catch let error as DatasetExportError {
            try? fm.removeItem(at: partial)
            throw error
        } catch {
            try? fm.removeItem(at: partial)
            throw DatasetExportError(.io, "cannot write \(shown): \(reason(error))")
        }
        guard rename(partial.path, url.path) == 0 else {
            let text = String(cString: strerror(errno))
            try? fm.removeItem(at: partial)
            throw DatasetExportError(.io, "cannot rename \(partial.path) to \(url.lastPathComponent): \(text)")
        }
    }

    static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}
