import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Small durable file helpers: write to a temporary name, fsync, rename, fsync the directory
/// (DESIGN.md §4 durability), with explicit permissions (never world-writable).
public enum FileIO {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let operation: String
        public let code: Int32
        public var description: String { "\(path): \(operation) failed: \(String(cString: strerror(code)))" }
    }

    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, operation: "open", code: errno) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: temporary, operation: "write", code: errno)
            }
            offset += n
        }
        // open() applies the umask; the mode we were asked for is the mode we keep.
        guard fchmod(fd, mode) == 0 else { throw Failure(path: temporary, operation: "chmod", code: errno) }
        guard fsync(fd) == 0 else { throw Failure(path: temporary, operation: "fsync", code: errno) }
        guard rename(temporary, path) == 0 else { throw Failure(path: path, operation: "rename", code: errno) }
        ok = true
        try syncDirectory(of: path)
    }

    public static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: directory, operation: "open", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(path: directory, operation: "fsync", code: errno) }
    }

    public static func createDirectory(_ path: String, mode: mode_t = 0o750) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw Failure(path: path, operation: "mkdir (a file is in the way)", code: EEXIST) }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: NSNumber(value: mode)])
    }
}
