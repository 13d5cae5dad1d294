import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Small durable file helpers: write to a temporary name, fsync, rename, fsync the directory
/// (DESIGN.md §4 durability), with explicit permissions (never world-writable). Every file is
/// created by us (O_EXCL) and never through a symbolic link (O_NOFOLLOW): as root, a link
/// planted where we write would otherwise aim our write anywhere.
public enum FileIO {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let operation: String
        public let code: Int32
        public var description: String { "\(path): \(operation) failed: \(String(cString: strerror(code)))" }
    }

    /// A file this process has just created. `commit` makes it durable; released before that
    /// (an error on the way), it is removed.
    public final class NewFile {
        public let path: String
        private var fd: Int32
        private let mode: mode_t

        /// Creates `path`; fails with EEXIST when anything (a dangling link too) is there.
        public init(creating path: String, mode: mode_t) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else { throw Failure(path: path, operation: "create", code: errno) }
            self.path = path
            self.fd = fd
            self.mode = mode
        }

        public func write(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(path: path, operation: "write", code: errno)
                }
                offset += n
            }
        }

        public func setModificationDate(_ date: Date) {
            let seconds = date.timeIntervalSince1970.rounded(.down)
            let time = timespec(tv_sec: Int(seconds), tv_nsec: 0)
            var times = [time, time]
            _ = futimens(fd, &times)
        }

        /// The mode we were asked for (open() applied the umask), data on disk, file closed.
        /// On failure the file is removed.
        public func commit() throws {
            guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
                let failure = Failure(path: path, operation: "fsync", code: errno)
                discard()
                throw failure
            }
            close(fd)
            fd = -1
        }

        public func discard() {
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
            unlink(path)
        }

        deinit { discard() }
    }

    /// Writes `bytes` to a new temporary file next to `path` and renames it over `path`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = try temporaryFile(for: path, mode: mode)
        try temporary.write(bytes)
        try temporary.commit()
        guard rename(temporary.path, path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw Failure(path: path, operation: "rename", code: code)
        }
        try syncDirectory(of: path)
    }

    /// A fresh file named after `path` with a random suffix, so nobody can place one there first.
    private static func temporaryFile(for path: String, mode: mode_t) throws -> NewFile {
        var attempts = 0
        while true {
            do {
                return try NewFile(creating: path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", mode: mode)
            } catch let failure as Failure where failure.code == EEXIST && attempts < 10 {
                attempts += 1
            }
        }
    }

    /// fsync of the directory holding `path`, so a new name in it is on disk too.
    public static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try syncDirectory(at: directory.isEmpty ? "." : directory)
    }

    public static func syncDirectory(at directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: directory, operation: "open", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(path: directory, operation: "fsync", code: errno) }
    }

    /// Creates the directory `path`, which must not exist yet (mkdir: one step, no race).
    public static func makeDirectory(_ path: String, mode: mode_t) throws {
        guard mkdir(path, mode) == 0 else { throw Failure(path: path, operation: "mkdir", code: errno) }
        // mkdir() applied the umask.
        guard chmod(path, mode) == 0 else { throw Failure(path: path, operation: "chmod", code: errno) }
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
