import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A directory of mail being imported, opened without following a symbolic link, whose
/// entries are opened relative to it: a link swapped in for a directory or a file between
/// looking and opening is never followed (openat with O_NOFOLLOW).
final class DirectoryHandle {
    let fd: Int32
    /// For messages only.
    let path: String

    /// `name` inside `parent` (or a path, with no parent); nil when it is not a directory, is a
    /// symbolic link, or cannot be opened.
    init?(_ name: String, in parent: DirectoryHandle?) {
        let fd = openat(parent?.fd ?? AT_FDCWD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.path = parent.map { $0.path + "/" + name } ?? name
    }

    deinit { close(fd) }

    /// Both cur/ and new/ are directories (Maildir).
    var isMaildir: Bool { DirectoryHandle("cur", in: self) != nil && DirectoryHandle("new", in: self) != nil }

    func isSymbolicLink(_ name: String) -> Bool {
        var st = stat()
        return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }

    /// Every entry but "." and "..".
    func names() -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return []
        }
        defer { closedir(stream) }
        var result: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }
}

/// The content of a regular file, read only after open() proved it is one: O_NOFOLLOW refuses
/// a link, O_NONBLOCK keeps a FIFO from blocking the open, and fstat on the open file says
/// what it is.
struct RegularFile {
    let bytes: [UInt8]
    /// Modification time, seconds since the epoch.
    let modified: Int64

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func read(_ name: String, relativeTo directory: Int32, limit: Int) -> Result<RegularFile, Problem> {
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            return .failure(Problem(description: errno == ELOOP ? "not a regular file (a symbolic link)"
                                    : "cannot open for reading: \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(Problem(description: "cannot stat: \(String(cString: strerror(errno)))")) }
        guard st.st_mode & S_IFMT == S_IFREG else { return .failure(Problem(description: "not a regular file")) }
        guard st.st_size <= limit else { return .failure(Problem(description: "larger than \(limit) bytes")) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while true {
            if offset == bytes.count { bytes += [UInt8](repeating: 0, count: 65536) }  // grew since fstat
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return .failure(Problem(description: "cannot read: \(String(cString: strerror(errno)))")) }
            if n == 0 { break }
            offset += n
            guard offset <= limit else { return .failure(Problem(description: "larger than \(limit) bytes")) }
        }
        bytes.removeLast(bytes.count - offset)
        return .success(RegularFile(bytes: bytes, modified: Int64(st.st_mtim.tv_sec)))
    }
}
