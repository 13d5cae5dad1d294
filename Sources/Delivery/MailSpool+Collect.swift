#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MailAuth
import MailCore
import MailStore

/// IMAP and POP3 for accounts whose mail is written to files: at login (and when an IMAP client
/// checks for mail) the messages waiting in the account's INBOX file are moved into its INBOX in
/// the store, as UW imapd moved `/var/mail/user` into `~/mbox` and movemail does. From there every
/// IMAP and POP3 operation works as for any account. The file keeps what was not collected yet,
/// so local tools (mutt -f /var/mail/user, `mail`) see new mail until the user's client takes it.
/// Collection is durable before the file is cut: a crash in between can duplicate a message,
/// never lose one.
extension MailSpool {
    public func collect(_ account: Account, into store: any MailStore, logger: Logger) async {
        let target = target(for: account)
        guard target != .store, let (name, _) = DirectoryAddress.split(account.address), let user = users.user(named: name) else { return }
        let config = configuration
        let timeout = lockTimeout
        switch target {
        case .store:
            return
        case .mbox:
            let path = Self.expand(config.mboxPath, user)
            let opened: Result<HeldMbox?, SafeFiles.Failure> = await Self.blocking {
                do throws(SafeFiles.Failure) { return .success(try HeldMbox.open(path, user: user, timeout: timeout)) } catch { return .failure(error) }
            }
            let held: HeldMbox
            switch opened {
            case .success(let h?): held = h
            case .success(nil): return
            case .failure(let error):
                logger.warning("cannot collect mail from the spool", metadata: ["file": "\(path)", "error": "\(error)"])
                return
            }
            let messages: [MboxMessage]
            do {
                messages = try Mbox.parse(held.contents)
            } catch {
                logger.warning("cannot collect mail from the spool", metadata: ["file": "\(path)", "error": "\(error)"])
                _ = await Self.blocking { held.release(keeping: nil) }
                return
            }
            let stored = await Self.store(messages.map { m in
                NewMessage(bytes: LineEndings.toCRLF(m.bytes), flags: Self.mboxFlags(m.bytes),
                           internalDate: InternalDate(seconds: Int64((m.date ?? Date()).timeIntervalSince1970)))
            }, account: account, store: store, logger: logger)
            // What could not be stored (a full mailbox) stays in the file, in order.
            let rest = zip(messages, stored).filter { !$0.1 }.reduce(into: [UInt8]()) { Mbox.write($1.0, into: &$0) }
            let taken = stored.filter { $0 }.count
            let error = await Self.blocking { held.release(keeping: rest) }
            if let error { logger.error("cannot cut the spool after collecting", metadata: ["file": "\(path)", "error": "\(error)"]) }
            if taken > 0 { logger.info("collected mail from the spool", metadata: ["file": "\(path)", "messages": "\(taken)"]) }
        case .maildir:
            let root = Self.expand(config.maildirPath, user)
            let files: [(String, [UInt8], Int64)] = await Self.blocking { Self.readMaildirNew(root, user: user) }
            guard !files.isEmpty else { return }
            let stored = await Self.store(files.map { NewMessage(bytes: LineEndings.toCRLF($0.1), internalDate: InternalDate(seconds: $0.2)) },
                                          account: account, store: store, logger: logger)
            let done = zip(files, stored).filter(\.1).map(\.0.0)
            let taken = done.count
            await Self.blocking { for path in done { unlink(path) } }
            logger.info("collected mail from the Maildir", metadata: ["directory": "\(root)", "messages": "\(taken)"])
        }
    }

    /// Stores `messages` in INBOX, in order, in one durable commit; for each, whether it was
    /// stored (a full mailbox refuses some).
    static func store(_ messages: [NewMessage], account: Account, store: any MailStore, logger: Logger) async -> [Bool] {
        guard !messages.isEmpty else { return [] }
        do {
            let results = try await store.deliver(messages.map { Delivery(user: account.id, mailbox: "INBOX", message: $0) })
            if let failure = results.first(where: { if case .failure = $0 { true } else { false } }) {
                logger.warning("spool mail not collected", metadata: ["user": "\(account.address)", "error": "\(failure)"])
            }
            return results.map { if case .success = $0 { true } else { false } }
        } catch {
            logger.warning("spool mail not collected", metadata: ["user": "\(account.address)", "error": "\(error)"])
            return messages.map { _ in false }
        }
    }

    /// Flags that mutt, Dovecot and Thunderbird keep in the `Status:` and `X-Status:` headers.
    public static func mboxFlags(_ bytes: [UInt8]) -> MessageFlags {
        let (header, _) = MessageHeader.parse(bytes)
        var flags: SystemFlags = []
        if let status = header.first("Status")?.value, status.contains("R") { flags.insert(.seen) }
        if let xStatus = header.first("X-Status")?.value {
            if xStatus.contains("A") { flags.insert(.answered) }
            if xStatus.contains("F") { flags.insert(.flagged) }
            if xStatus.contains("T") { flags.insert(.draft) }
            if xStatus.contains("D") { flags.insert(.deleted) }
        }
        return MessageFlags(system: flags)
    }

    /// The files in `root/new` (path, contents, mtime), oldest first; links and other users'
    /// files are left alone.
    static func readMaildirNew(_ root: String, user: SystemUser) -> [(String, [UInt8], Int64)] {
        let owner = owner(user)
        guard let dir = try? SafeFiles.openDirectory(root + "/new", owner: owner, create: false) else { return [] }
        defer { close(dir) }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root + "/new") else { return [] }
        var files: [(String, [UInt8], Int64)] = []
        for name in names.sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }) where !name.hasPrefix(".") {
            let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == owner.uid, st.st_size < Int(Int32.max) else { continue }
            var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n == bytes.count else { continue }
            files.append(("\(root)/new/\(name)", bytes, Int64(st.st_mtim.tv_sec)))
        }
        return files
    }
}

/// An mbox file held under both locks while its messages are collected.
final class HeldMbox: @unchecked Sendable {
    let directory: Int32
    let fd: Int32
    let name: String
    let dotted: Bool
    let contents: [UInt8]

    private init(directory: Int32, fd: Int32, name: String, dotted: Bool, contents: [UInt8]) {
        self.directory = directory; self.fd = fd; self.name = name; self.dotted = dotted; self.contents = contents
    }

    /// nil when there is no file or it is empty (nothing to collect; no lock kept).
    static func open(_ path: String, user: SystemUser, timeout: TimeInterval) throws(SafeFiles.Failure) -> HeldMbox? {
        let (directory, name) = MailSpool.split(path)
        let owner = MailSpool.owner(user)
        let dir = try SafeFiles.openDirectory(directory, owner: owner, create: false)
        var st = stat()
        guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_size > 0 else { close(dir); return nil }
        let deadline = Date().addingTimeInterval(timeout)
        let dotted: Bool
        do { dotted = try SafeFiles.dotLock(dir, name, path: path, deadline: deadline) } catch { close(dir); throw error }
        func fail(_ f: SafeFiles.Failure) -> SafeFiles.Failure {
            if dotted { SafeFiles.dotUnlock(dir, name) }
            close(dir)
            return f
        }
        let fd = openat(dir, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw fail(SafeFiles.Failure("cannot open", path, errno: errno)) }
        do {
            try SafeFiles.checkOwnFile(fd, owner: owner, path: path)
            try SafeFiles.fcntlLock(fd, path: path, deadline: deadline)
        } catch {
            close(fd)
            throw fail(error)
        }
        guard fstat(fd, &st) == 0, st.st_size < 1 << 31 else { close(fd); throw fail(SafeFiles.Failure("too large to collect:", path)) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { close(fd); throw fail(SafeFiles.Failure("cannot read", path, errno: errno)) }
        return HeldMbox(directory: dir, fd: fd, name: name, dotted: dotted, contents: bytes)
    }

    /// Rewrites the file to hold only `keeping` (nil: unchanged), fsync'd, then unlocks.
    /// Returns an error text when the file could not be cut.
    func release(keeping: [UInt8]?) -> String? {
        defer {
            close(fd)
            if dotted { SafeFiles.dotUnlock(directory, name) }
            close(directory)
        }
        guard let keeping else { return nil }
        guard ftruncate(fd, 0) == 0 else { return String(cString: strerror(errno)) }
        if !keeping.isEmpty {
            let n = keeping.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard n == keeping.count else { return String(cString: strerror(errno)) }
        }
        return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
    }
}
