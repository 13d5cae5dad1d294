#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailAuth
import MailCore
import NIOPosix

/// Where an account's mail is written (`[delivery]`): the store (the default), or files that
/// the classic tools read: an mbox spool file such as `/var/mail/%u` (other folders as mbox
/// files under `%h/mail`), or a Maildir (`%h/Maildir`, folders as Maildir++ `.Name`).
public struct SpoolConfiguration: Sendable, Equatable {
    public enum Target: String, Sendable, Equatable { case store, mbox, maildir }

    public var target = Target.store
    /// Per domain and per account address (both lowercased), over `target`.
    public var domains: [String: Target] = [:]
    public var users: [String: Target] = [:]
    /// `%u`: the system user's name; `%h`: their home directory.
    public var mboxPath = "/var/mail/%u"
    public var mboxFolders = "%h/mail"
    public var maildirPath = "%h/Maildir"
    public init() {}

    public func target(for address: String) -> Target {
        let address = address.lowercased()
        if let t = users[address] { return t }
        if let (_, domain) = DirectoryAddress.split(address), let t = domains[domain] { return t }
        return target
    }

    public var usesFiles: Bool { target != .store || !domains.isEmpty || !users.isEmpty }
}

/// Writes local mail into mbox files and Maildirs owned by system users, and collects it from
/// there into the store when the user logs in over IMAP or POP3.
///
/// The file's owner is the system user whose name is the account's local part (`useradd`'s
/// user for `name@domain`); an account without one cannot use a file target (its deliveries
/// are deferred, and the log says why). Writing needs root's privileges, so these targets
/// need the server to keep them (`server.user` empty).
public struct MailSpool: Sendable {
    public enum SpoolError: Error, CustomStringConvertible {
        case noSystemUser(String)
        case file(String)
        public var description: String {
            switch self {
            case .noSystemUser(let a): "\(a) has no system user of that name for its mbox or Maildir"
            case .file(let why): why
            }
        }
    }

    let configuration: SpoolConfiguration
    let users: SystemUserTable
    let hostname: String
    /// How long a writer waits for another's lock (mutt holds it while it rewrites the file).
    let lockTimeout: TimeInterval = 30

    public init(configuration: SpoolConfiguration, users: SystemUserTable, hostname: String) {
        self.configuration = configuration
        self.users = users
        self.hostname = hostname
    }

    public func target(for account: Account) -> SpoolConfiguration.Target { configuration.target(for: account.address) }

    /// Appends `message` (CRLF, our trace fields first) to the account's file for `folder`
    /// (nil: INBOX); returns the path written. Durable (fsync) before it returns.
    public func deliver(_ message: [UInt8], sender: String, account: Account, folder: String?) async throws(SpoolError) -> String {
        let target = target(for: account)
        guard let (name, _) = DirectoryAddress.split(account.address), let user = users.user(named: name) else {
            throw .noSystemUser(account.address)
        }
        let host = hostname
        let timeout = lockTimeout
        let config = configuration
        let result: Result<String, SafeFiles.Failure> = await Self.blocking {
            do throws(SafeFiles.Failure) {
                switch target {
                case .mbox, .store:
                    let path = folder.map { Self.expand(config.mboxFolders, user) + "/" + Self.fileName($0) }
                        ?? Self.expand(config.mboxPath, user)
                    try Self.appendMbox(message, sender: sender, path: path, user: user, timeout: timeout)
                    return .success(path)
                case .maildir:
                    let root = Self.expand(config.maildirPath, user)
                    let dir = folder.map { root + "/" + Maildir.folderDirectoryName(forMailbox: $0) } ?? root
                    return .success(try Self.writeMaildir(message, directory: dir, user: user, host: host))
                }
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let path): return path
        case .failure(let f): throw .file(f.description)
        }
    }

    static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            NIOThreadPool.singleton.submit { _ in continuation.resume(returning: body()) }
        }
    }

    static func expand(_ template: String, _ user: SystemUser) -> String {
        template.replacingOccurrences(of: "%u", with: user.name).replacingOccurrences(of: "%h", with: user.home)
    }

    /// A folder's file name under `~/mail`: its hierarchy flattened with "." (no directories
    /// of our making inside the user's), and nothing that walks elsewhere.
    static func fileName(_ folder: String) -> String {
        let flat = folder.split(separator: "/").joined(separator: ".")
        let safe = flat.map { $0 == "\0" ? "_" : $0 }
        let name = String(safe)
        return name.hasPrefix(".") || name.isEmpty ? "_" + name : name
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        let url = URL(fileURLWithPath: path)
        return (url.deletingLastPathComponent().path, url.lastPathComponent)
    }

    static func owner(_ user: SystemUser) -> SafeFiles.Owner { SafeFiles.Owner(uid: uid_t(user.uid), gid: gid_t(user.gid)) }

    /// mboxrd (RFC 4155) append under a dot-lock and an fcntl lock, fsync'd; a failed write is
    /// cut back so that the file never ends in half a message.
    static func appendMbox(_ message: [UInt8], sender: String, path: String, user: SystemUser, timeout: TimeInterval) throws(SafeFiles.Failure) {
        let (directory, name) = split(path)
        let owner = owner(user)
        // Missing directories are made in the user's home (~/mail), never elsewhere (the spool
        // directory is the system's).
        let dir = try SafeFiles.openDirectory(directory, owner: owner, create: (directory + "/").hasPrefix(user.home + "/"))
        defer { close(dir) }
        let deadline = Date().addingTimeInterval(timeout)
        let dotted = try SafeFiles.dotLock(dir, name, path: path, deadline: deadline)
        defer { if dotted { SafeFiles.dotUnlock(dir, name) } }
        let (fd, created) = try SafeFiles.openForAppend(dir, name, owner: owner, path: path)
        defer { close(fd) }
        try SafeFiles.fcntlLock(fd, path: path, deadline: deadline)
        let entry = Mbox.write(MboxMessage(envelopeSender: sender.isEmpty ? Mbox.defaultSender : sender,
                                           bytes: LineEndings.toLF(message)))
        let before = lseek(fd, 0, SEEK_END)
        if let e = SafeFiles.writeAll(fd, entry) ?? (fsync(fd) == 0 ? nil : errno) {
            if before >= 0 { _ = ftruncate(fd, before) }
            throw SafeFiles.Failure("cannot write", path, errno: e)
        }
        if created { _ = fsync(dir) }
    }

    /// Maildir delivery: written in `tmp`, fsync'd, then linked into `new` (atomic: a reader
    /// sees the whole message or nothing).
    static func writeMaildir(_ message: [UInt8], directory: String, user: SystemUser, host: String) throws(SafeFiles.Failure) -> String {
        let owner = owner(user)
        let root = try SafeFiles.openDirectory(directory, owner: owner, create: true)
        defer { close(root) }
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        for sub in ["tmp", "new", "cur"] {
            if mkdirat(root, sub, 0o700) == 0 {
                let fd = openat(root, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if fd >= 0 { _ = fchown(fd, owner.uid, owner.gid); close(fd) }
            }
            let fd = openat(root, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw SafeFiles.Failure("cannot open", directory + "/" + sub, errno: errno) }
            fds.append(fd)
        }
        let (tmp, new) = (fds[0], fds[1])
        let name = Maildir.uniqueName(time: Date(), sequence: Int.random(in: 0..<1_000_000_000), pid: getpid(), host: host)
        let fd = openat(tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SafeFiles.Failure("cannot create", "\(directory)/tmp/\(name)", errno: errno) }
        let failure = (fchown(fd, owner.uid, owner.gid) == 0 ? nil : errno)
            ?? SafeFiles.writeAll(fd, LineEndings.toLF(message)) ?? (fsync(fd) == 0 ? nil : errno)
        close(fd)
        if let e = failure {
            unlinkat(tmp, name, 0)
            throw SafeFiles.Failure("cannot write", "\(directory)/tmp/\(name)", errno: e)
        }
        guard linkat(tmp, name, new, name, 0) == 0 else {
            let e = errno
            unlinkat(tmp, name, 0)
            throw SafeFiles.Failure("cannot move into new/", "\(directory)/new/\(name)", errno: e)
        }
        unlinkat(tmp, name, 0)
        _ = fsync(new)
        return "\(directory)/new/\(name)"
    }
}
