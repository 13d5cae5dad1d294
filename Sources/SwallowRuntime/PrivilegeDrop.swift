import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// DESIGN.md §4 least privilege: as root, bind the ports, then become `[server] user`.
///
/// What root trusts: the configuration file and the data directory must be root's and writable
/// by nobody else, or whoever could change them could make root read or write anything (a
/// symbolic link planted in the data directory, a config naming /etc/shadow as the key). The
/// service user gets only the files Swallow made there, by name, never through a link; the data
/// directory stays root's, open to the service user's group for reading.
enum PrivilegeDrop {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The files in the data directory the service user must be able to write: the databases
    /// with their WAL and shared-memory files, and a certificate and key Swallow keeps there.
    static func ownedFiles(_ config: SwallowConfiguration) -> [String] {
        let databases = ["swallow.sqlite", "queue.sqlite", "trace.sqlite", "admin.sqlite"].flatMap { [$0, $0 + "-wal", $0 + "-shm"] }
        let directory = config.dataDirectory.path
        let tls = [config.certificatePath, config.privateKeyPath]
            .filter { ($0 as NSString).deletingLastPathComponent == directory }
            .map { ($0 as NSString).lastPathComponent }
        return databases + tls
    }

    /// Refuses to go on as root when someone else could change what root is about to read.
    static func checkOwnership(_ config: SwallowConfiguration) throws(ConfigurationError) {
        guard geteuid() == 0 else { return }
        for (path, key) in [(config.sourcePath, nil), (config.dataDirectory.path, "server.data_dir")] {
            var st = stat()
            guard stat(path, &st) == 0 else { continue }  // a missing data directory is created later, by root
            let problem: String? = if st.st_uid != 0 {
                "'\(path)' belongs to uid \(st.st_uid), not root (chown root '\(path)')"
            } else if st.st_mode & 0o022 != 0 {
                "'\(path)' is writable by its group or others (chmod go-w '\(path)')"
            } else {
                nil
            }
            if let problem {
                throw ConfigurationError(file: config.sourcePath, key: key,
                                         message: "\(problem); as root, Swallow starts only from files nobody but root can change")
            }
        }
    }

    static func drop(to user: String, config: SwallowConfiguration) throws {
        guard !user.isEmpty else { return }
        guard geteuid() == 0 else { return }  // not root: nothing to drop
        guard let entry = getpwnam(user) else { throw Failure(description: "server.user: no such user '\(user)'") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        try handOver(ownedFiles(config), in: config.dataDirectory.path, uid: uid, gid: gid)
        try handOverKeys(config.dkimDirectory, uid: uid, gid: gid)
        guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw Failure(description: "server.user: cannot switch to '\(user)': \(String(cString: strerror(errno)))")
        }
        guard setuid(0) != 0 else { throw Failure(description: "server.user: privileges could be regained after dropping") }
    }

    /// The DKIM key directory (`dkim/DOMAIN/SELECTOR.pem`) and what Swallow made in it: real
    /// directories and regular files only, never through a link.
    static func handOverKeys(_ root: String, uid: uid_t, gid: gid_t) throws {
        var st = stat()
        guard lstat(root, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return }
        guard lchown(root, uid, gid) == 0 else { throw FileIO.Failure(path: root, operation: "chown", code: errno) }
        for domain in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            let dir = root + "/" + domain
            guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            guard lchown(dir, uid, gid) == 0 else { throw FileIO.Failure(path: dir, operation: "chown", code: errno) }
            let keys = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".pem") }
            try handOver(keys, in: dir, uid: uid, gid: gid)
        }
    }

    /// Each named regular file becomes the service user's, looked up relative to the directory
    /// and never through a symbolic link (fchownat with AT_SYMLINK_NOFOLLOW). The directory
    /// itself stays root's; its group becomes the service user's, which may enter and read it.
    static func handOver(_ names: [String], in directory: String, uid: uid_t, gid: gid_t) throws {
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw FileIO.Failure(path: directory, operation: "open", code: errno) }
        defer { close(dirfd) }
        var st = stat()
        guard fstat(dirfd, &st) == 0, fchown(dirfd, uid_t.max, gid) == 0,
              fchmod(dirfd, (st.st_mode & 0o7777 & ~0o022) | 0o050) == 0 else {
            throw FileIO.Failure(path: directory, operation: "chown", code: errno)
        }
        for name in names {
            guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }  // not made (yet)
            guard st.st_mode & S_IFMT == S_IFREG else { continue }  // not ours: never touched
            guard fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw FileIO.Failure(path: directory + "/" + name, operation: "chown", code: errno)
            }
        }
    }
}
