import Delivery
import Foundation
import MailAuth
import MailCore
import MailStore

/// `swallow import` / `swallow export`: one user's mail in and out of mbox files and Maildirs.
///
/// The store keeps messages with CRLF line endings (what SMTP and IMAP carry); mbox files and
/// Maildirs hold LF text, so messages are converted on the way in and back on the way out, and
/// an mbox exported after importing one holds the same messages byte for byte.
public struct MailTransfer: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case mbox, maildir
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Largest file an mbox import reads (it is validated whole before anything is stored).
    public static let maxMboxSize = 4 << 30

    let backend: Backend

    public init(backend: Backend) { self.backend = backend }

    // MARK: Import

    /// What an import stored, and what it left out.
    public struct ImportReport: Sendable {
        /// (mailbox, messages stored) for each mailbox that received any.
        public var counts: [(String, Int)] = []
        /// Entries of a Maildir that are not regular files (symbolic links, FIFOs, devices),
        /// each with the reason: never read, so a link cannot import a file it points at.
        public var skipped: [String] = []
    }

    /// Imports everything at `path`. Nothing is stored unless the whole input is valid: an
    /// import is one transaction per mailbox, validated first. Only regular files are read;
    /// `path` itself must not be a symbolic link, and what a Maildir holds besides regular
    /// files is skipped and reported.
    public func importMail(format: Format, user address: String, mailbox: String?, path: String) async throws -> ImportReport {
        let account = try await self.account(address)
        var report = ImportReport()
        let batches: [(String, [NewMessage])]
        switch format {
        case .mbox: batches = [(mailbox ?? "INBOX", try readMbox(path))]
        case .maildir: batches = try readMaildirTree(path, mailbox: mailbox, skipped: &report.skipped)
        }
        try await backend.store.prepareAccount(account.id)
        for (name, messages) in batches where !messages.isEmpty {
            let normalized = try MailboxName.validate(name)
            if (try? await backend.store.mailbox(account.id, named: normalized)) == nil {
                try await backend.store.createMailbox(account.id, named: normalized, specialUse: nil)
            }
            let stored = try await backend.store.appendAll(account.id, to: normalized, messages)
            report.counts.append((normalized, stored.count))
        }
        return report
    }

    func readMbox(_ path: String) throws -> [NewMessage] {
        let data: [UInt8]
        switch RegularFile.read(path, relativeTo: AT_FDCWD, limit: Self.maxMboxSize) {
        case .success(let file): data = file.bytes
        case .failure(let problem): throw Failure("\(path): \(problem)")
        }
        let messages: [MboxMessage]
        do {
            messages = try Mbox.parse(data)
        } catch {
            throw Failure("\(path): \(error)")
        }
        return messages.map { m in
            let date = m.date ?? Date()
            return NewMessage(bytes: LineEndings.toCRLF(m.bytes), flags: MailSpool.mboxFlags(m.bytes),
                              internalDate: InternalDate(seconds: Int64(date.timeIntervalSince1970)))
        }
    }

    /// A Maildir (cur/ and new/) into one mailbox, or with no `mailbox` given, a whole Maildir++
    /// tree: the root into INBOX and each `.Folder` into its mailbox. Directories are opened
    /// one below the other without following links, files relative to them.
    func readMaildirTree(_ path: String, mailbox: String?, skipped: inout [String]) throws -> [(String, [NewMessage])] {
        guard let root = DirectoryHandle(path, in: nil), root.isMaildir else {
            throw Failure("\(path): not a Maildir (a directory, not a symbolic link, with cur/ and new/ directories)")
        }
        var result = [(mailbox ?? "INBOX", try readMaildir(root, skipped: &skipped))]
        guard mailbox == nil else { return result }
        for entry in root.names().sorted() where entry.hasPrefix(".") {
            guard let name = Maildir.mailboxName(forFolderDirectory: entry) else { continue }
            guard let folder = DirectoryHandle(entry, in: root) else {
                if root.isSymbolicLink(entry) { skipped.append("\(path)/\(entry): a symbolic link") }
                continue
            }
            guard folder.isMaildir else { continue }
            result.append((name, try readMaildir(folder, skipped: &skipped)))
        }
        return result
    }

    func readMaildir(_ maildir: DirectoryHandle, skipped: inout [String]) throws -> [NewMessage] {
        var files: [(name: String, file: RegularFile)] = []
        for sub in ["new", "cur"] {
            guard let dir = DirectoryHandle(sub, in: maildir) else { throw Failure("\(maildir.path)/\(sub): cannot open") }
            for name in dir.names() where !name.hasPrefix(".") {
                switch RegularFile.read(name, relativeTo: dir.fd, limit: Int(Int32.max)) {
                case .success(let file): files.append((name, file))
                case .failure(let problem): skipped.append("\(dir.path)/\(name): \(problem)")
                }
            }
        }
        // Unique names start with the delivery time, so name order is arrival order; numeric
        // comparison keeps "Q2" before "Q10" within one second.
        files.sort { $0.name.compare($1.name, options: .numeric) == .orderedAscending }
        return files.map { entry in
            let info = Maildir.info(entry.name)
            var flags: SystemFlags = []
            if info.flags.contains(.seen) { flags.insert(.seen) }
            if info.flags.contains(.replied) { flags.insert(.answered) }
            if info.flags.contains(.flagged) { flags.insert(.flagged) }
            if info.flags.contains(.trashed) { flags.insert(.deleted) }
            if info.flags.contains(.draft) { flags.insert(.draft) }
            let keywords = info.flags.contains(.passed) ? ["$Forwarded"] : []
            // Dovecot takes a Maildir message's received date from the file's mtime.
            return NewMessage(bytes: LineEndings.toCRLF(entry.file.bytes), flags: MessageFlags(system: flags, keywords: keywords),
                              internalDate: InternalDate(seconds: entry.file.modified))
        }
    }

    // MARK: Export

    /// Exports one mailbox (or, for maildir with no `mailbox`, every mailbox); returns
    /// (mailbox, count) pairs. `path` must not exist, and that is enforced by creating it
    /// (O_EXCL, mkdir), never by looking first; every file is new, owner-only, not a link.
    public func exportMail(format: Format, user address: String, mailbox: String?, path: String) async throws -> [(String, Int)] {
        let account = try await self.account(address)
        func exists() -> Failure { Failure("\(path) already exists; choose a new path") }
        switch format {
        case .mbox:
            let box = try await backend.store.mailbox(account.id, named: mailbox ?? "INBOX")
            let file: FileIO.NewFile
            do {
                file = try FileIO.NewFile(creating: path, mode: 0o600)
            } catch let failure as FileIO.Failure where failure.code == EEXIST {
                throw exists()
            }
            var count = 0
            for summary in try await backend.store.allMessages(in: box.id) {
                let bytes = LineEndings.toLF(try await backend.store.messageBytes(in: box.id, uid: summary.uid))
                let date = Date(timeIntervalSince1970: TimeInterval(summary.internalDate.seconds))
                var output: [UInt8] = []
                Mbox.write(MboxMessage(envelopeSender: Self.envelopeSender(bytes), date: date, bytes: bytes), into: &output)
                try file.write(output)
                count += 1
            }
            try file.commit()
            try FileIO.syncDirectory(of: path)
            return [(box.name, count)]
        case .maildir:
            let all = try await backend.store.listMailboxes(account.id).filter(\.selectable)
            let boxes = try mailbox.map { name in
                let n = MailboxName.normalize(name)
                guard let box = all.first(where: { $0.name == n }) else { throw StoreError.notFound(n) }
                return [box]
            } ?? all
            do {
                try FileIO.makeDirectory(path, mode: 0o700)
            } catch let failure as FileIO.Failure where failure.code == EEXIST {
                throw exists()
            }
            var result: [(String, Int)] = []
            var sequence = 0
            for box in boxes {
                let dir = mailbox != nil || box.name == "INBOX" ? path : path + "/" + Maildir.folderDirectoryName(forMailbox: box.name)
                if dir != path { try FileIO.makeDirectory(dir, mode: 0o700) }
                for sub in ["cur", "new", "tmp"] { try FileIO.makeDirectory(dir + "/" + sub, mode: 0o700) }
                var count = 0
                for summary in try await backend.store.allMessages(in: box.id) {
                    let bytes = LineEndings.toLF(try await backend.store.messageBytes(in: box.id, uid: summary.uid))
                    let date = Date(timeIntervalSince1970: TimeInterval(summary.internalDate.seconds))
                    sequence += 1
                    let base = Maildir.uniqueName(time: date, sequence: sequence, pid: getpid(), host: ProcessInfo.processInfo.hostName)
                        + ",S=\(bytes.count),W=\(summary.size)"
                    let file = try FileIO.NewFile(creating: dir + "/cur/" + Maildir.filename(base: base, flags: Self.maildirFlags(summary.flags)),
                                                  mode: 0o600)
                    try file.write(bytes)
                    file.setModificationDate(date)
                    try file.commit()
                    count += 1
                }
                try FileIO.syncDirectory(at: dir + "/cur")
                result.append((box.name, count))
            }
            return result
        }
    }

    static func maildirFlags(_ flags: MessageFlags) -> MaildirFlags {
        var result: MaildirFlags = []
        if flags.system.contains(.seen) { result.insert(.seen) }
        if flags.system.contains(.answered) { result.insert(.replied) }
        if flags.system.contains(.flagged) { result.insert(.flagged) }
        if flags.system.contains(.deleted) { result.insert(.trashed) }
        if flags.system.contains(.draft) { result.insert(.draft) }
        if flags.keywords.contains(where: { $0.lowercased() == "$forwarded" }) { result.insert(.passed) }
        return result
    }

    /// The From_ line's sender: the message's Return-Path (added at delivery), else the
    /// conventional MAILER-DAEMON.
    static func envelopeSender(_ bytes: [UInt8]) -> String {
        let (header, _) = MessageHeader.parse(bytes)
        guard let value = header.first("Return-Path")?.value else { return Mbox.defaultSender }
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: "<> \t"))
        return trimmed.isEmpty || trimmed.contains(where: \.isWhitespace) ? Mbox.defaultSender : trimmed
    }

    // MARK: Helpers

    func account(_ address: String) async throws -> Account {
        guard let account = try await backend.directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
        return account
    }
}
