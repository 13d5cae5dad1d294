#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// File operations on paths where users own some directories, done as root without letting a
/// user redirect them (the classic local delivery agent's hazard: `~/mail` made a symbolic link
/// to `/etc`). Every path component is opened with `O_NOFOLLOW` relative to its parent, every
/// directory on the way must belong to root or to the user, and an existing file must be a
/// regular file with one link, owned by the user. What we create is owned by the user, mode 0600
/// (files) or 0700 (directories): never world-writable.
enum SafeFiles {
    struct Owner: Sendable, Equatable {
        let uid: uid_t
        let gid: gid_t
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ what: String, _ path: String, errno code: Int32? = nil) {
            description = "\(what) \(path)" + (code.map { ": " + String(cString: strerror($0)) } ?? "")
        }
    }

    /// An open directory descriptor for absolute `path`, its missing components created for
    /// `owner` when `create`. The caller closes it.
    static func openDirectory(_ path: String, owner: Owner, create: Bool) throws(Failure) -> Int32 {
        guard path.hasPrefix("/") else { throw Failure("not an absolute path:", path) }
        var fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("cannot open", "/", errno: errno) }
        var walked = ""
        for component in path.split(separator: "/") where component != "." {
            guard component != ".." else { close(fd); throw Failure("refusing \"..\" in", path) }
            walked += "/" + component
            var next = openat(fd, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(fd, String(component), 0o700) != 0, errno != EEXIST {
                    let e = errno; close(fd); throw Failure("cannot create", walked, errno: e)
                }
                next = openat(fd, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next >= 0, fchown(next, owner.uid, owner.gid) != 0 {
                    let e = errno; close(next); close(fd); throw Failure("cannot give to the user", walked, errno: e)
                }
            }
            let e = errno
            close(fd)
            // ELOOP / ENOTDIR: a symbolic link or a file where a directory belongs.
            guard next >= 0 else { throw Failure("cannot open directory", walked, errno: e) }
            var st = stat()
            guard fstat(next, &st) == 0, st.st_uid == 0 || st.st_uid == owner.uid else {
                close(next); throw Failure("directory owned by another user:", walked)
            }
            fd = next
        }
        return fd
    }

    /// Opens `name` in `directory` for appending: created for `owner` (0600) when missing,
    /// otherwise it must be the user's own regular file with one link. `created` tells which.
    static func openForAppend(_ directory: Int32, _ name: String, owner: Owner, path: String) throws(Failure) -> (fd: Int32, created: Bool) {
        let fd = openat(directory, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            guard fchown(fd, owner.uid, owner.gid) == 0, fchmod(fd, 0o600) == 0 else {
                let e = errno; close(fd); throw Failure("cannot give to the user", path, errno: e)
            }
            return (fd, true)
        }
        guard errno == EEXIST else { throw Failure("cannot create", path, errno: errno) }
        let existing = openat(directory, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        guard existing >= 0 else { throw Failure("cannot open", path, errno: errno) }
        try checkOwnFile(existing, owner: owner, path: path)
        return (existing, false)
    }

    static func checkOwnFile(_ fd: Int32, owner: Owner, path: String) throws(Failure) {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_nlink == 1, st.st_uid == owner.uid else {
            close(fd)
            throw Failure("not a regular file of the user's own with one link:", path)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return nil
    }

    /// A dot-lock `NAME.lock` beside the mailbox (the convention mutt, procmail and Dovecot
    /// share), taken by exclusive creation; one older than `stale` seconds is a crashed
    /// writer's and is removed. Returns false when the directory does not allow one (then
    /// fcntl alone locks, as mutt does).
    static func dotLock(_ directory: Int32, _ name: String, path: String, deadline: Date, stale: TimeInterval = 300) throws(Failure) -> Bool {
        let lock = name + ".lock"
        while true {
            let fd = openat(directory, lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                close(fd)
                return true
            }
            let e = errno
            guard e == EEXIST else {
                if e == EACCES || e == EPERM || e == EROFS { return false }
                throw Failure("cannot lock", path, errno: e)
            }
            var st = stat()
            if fstatat(directory, lock, &st, AT_SYMLINK_NOFOLLOW) == 0,
               Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) > stale {
                unlinkat(directory, lock, 0)
                continue
            }
            guard Date() < deadline else { throw Failure("timed out waiting for the lock of", path) }
            usleep(50_000)
        }
    }

    static func dotUnlock(_ directory: Int32, _ name: String) {
        unlinkat(directory, name + ".lock", 0)
    }

    /// fcntl(2) write lock on the whole file (what mutt, Python's mailbox and Dovecot take).
    static func fcntlLock(_ fd: Int32, path: String, deadline: Date) throws(Failure) {
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        while fcntl(fd, F_SETLK, &lock) != 0 {
            guard errno == EACCES || errno == EAGAIN || errno == EINTR else { throw Failure("cannot lock", path, errno: errno) }
            guard Date() < deadline else { throw Failure("timed out waiting for the lock of", path) }
            usleep(50_000)
        }
    }
}
