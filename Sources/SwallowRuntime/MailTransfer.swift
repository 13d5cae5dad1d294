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

    /// Imports everything at `path`; returns (mailbox, count) pairs. Nothing is stored unless
    /// the whole input is valid: an import is one transaction per mailbox, validated first.
    public func importMail(format: Format, user address: String, mailbox: String?, path: String) async throws -> [(String, Int)] {
        let account = try await self.account(address)
        let batches: [(String, [NewMessage])]
        switch format {
        case .mbox: batches = [(mailbox ?? "INBOX", try readMbox(path))]
        case .maildir: batches = try readMaildirTree(path, mailbox: mailbox)
        }
        try await backend.store.prepareAccount(account.id)
        var result: [(String, Int)] = []
        for (name, messages) in batches where !messages.isEmpty {
            let normalized = try MailboxName.validate(name)
            if (try? await backend.store.mailbox(account.id, named: normalized)) == nil {
                try await backend.store.createMailbox(account.id, named: normalized, specialUse: nil)
            }
            let stored = try await backend.store.appendAll(account.id, to: normalized, messages)
            result.append((normalized, stored.count))
        }
        return result
    }

    func readMbox(_ path: String) throws -> [NewMessage] {
        let data = try readFile(path, limit: Self.maxMboxSize)
        let messages: [MboxMessage]
        do {
            messages = try Mbox.parse(data)
        } catch {
            throw Failure("\(path): \(error)")
        }
        return messages.map { m in
            let date = m.date ?? Date()
            return NewMessage(bytes: LineEndings.toCRLF(m.bytes), flags: Self.mboxFlags(m.bytes),
                              internalDate: InternalDate(seconds: Int64(date.timeIntervalSince1970)))
        }
    }

    /// Flags that mutt, Dovecot and Thunderbird keep in the `Status:` and `X-Status:` headers.
    static func mboxFlags(_ bytes: [UInt8]) -> MessageFlags {
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

    /// A Maildir (cur/ and new/) into one mailbox, or with no `mailbox` given, a whole Maildir++
    /// tree: the root into INBOX and each `.Folder` into its mailbox.
    func readMaildirTree(_ path: String, mailbox: String?) throws -> [(String, [NewMessage])] {
        guard isMaildir(path) else { throw Failure("\(path): not a Maildir (no cur/ and new/ directories)") }
        var result = [(mailbox ?? "INBOX", try readMaildir(path))]
        guard mailbox == nil else { return result }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for entry in entries.sorted() where entry.hasPrefix(".") && entry != "." && entry != ".." {
            let folder = path + "/" + entry
            guard isMaildir(folder), let name = Maildir.mailboxName(forFolderDirectory: entry) else { continue }
            result.append((name, try readMaildir(folder)))
        }
        return result
    }

    func isMaildir(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path + "/cur", isDirectory: &isDir) && isDir.boolValue
            && FileManager.default.fileExists(atPath: path + "/new", isDirectory: &isDir) && isDir.boolValue
    }

    func readMaildir(_ path: String) throws -> [NewMessage] {
        var files: [(name: String, path: String, new: Bool)] = []
        for sub in ["new", "cur"] {
            let dir = path + "/" + sub
            let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            files += names.filter { !$0.hasPrefix(".") }.map { ($0, dir + "/" + $0, sub == "new") }
        }
        // Unique names start with the delivery time, so name order is arrival order; numeric
        // comparison keeps "Q2" before "Q10" within one second.
        files.sort { $0.name.compare($1.name, options: .numeric) == .orderedAscending }
        return try files.map { file in
            let bytes = try readFile(file.path, limit: Int(Int32.max))
            let info = Maildir.info(file.name)
            var flags: SystemFlags = []
            if info.flags.contains(.seen) { flags.insert(.seen) }
            if info.flags.contains(.replied) { flags.insert(.answered) }
            if info.flags.contains(.flagged) { flags.insert(.flagged) }
            if info.flags.contains(.trashed) { flags.insert(.deleted) }
            if info.flags.contains(.draft) { flags.insert(.draft) }
            let keywords = info.flags.contains(.passed) ? ["$Forwarded"] : []
            // Dovecot takes a Maildir message's received date from the file's mtime.
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
            let mtime = (attributes?[.modificationDate] as? Date) ?? Date()
            return NewMessage(bytes: LineEndings.toCRLF(bytes), flags: MessageFlags(system: flags, keywords: keywords),
                              internalDate: InternalDate(seconds: Int64(mtime.timeIntervalSince1970)))
        }
    }

    // MARK: Export

    /// Exports one mailbox (or, for maildir with no `mailbox`, every mailbox); returns
    /// (mailbox, count) pairs. Refuses to overwrite an existing file or Maildir.
    public func exportMail(format: Format, user address: String, mailbox: String?, path: String) async throws -> [(String, Int)] {
        let account = try await self.account(address)
        guard !FileManager.default.fileExists(atPath: path) else { throw Failure("\(path) already exists; choose a new path") }
        switch format {
        case .mbox:
            let name = mailbox ?? "INBOX"
            let box = try await backend.store.mailbox(account.id, named: name)
            var output: [UInt8] = []
            var count = 0
            for summary in try await backend.store.allMessages(in: box.id) {
                let bytes = LineEndings.toLF(try await backend.store.messageBytes(in: box.id, uid: summary.uid))
                let date = Date(timeIntervalSince1970: TimeInterval(summary.internalDate.seconds))
                Mbox.write(MboxMessage(envelopeSender: Self.envelopeSender(bytes), date: date, bytes: bytes), into: &output)
                count += 1
            }
            try FileIO.writeAtomically(output, to: path, mode: 0o600)
            return [(box.name, count)]
        case .maildir:
            let all = try await backend.store.listMailboxes(account.id).filter(\.selectable)
            let boxes = try mailbox.map { name in
                let n = MailboxName.normalize(name)
                guard let box = all.first(where: { $0.name == n }) else { throw StoreError.notFound(n) }
                return [box]
            } ?? all
            var result: [(String, Int)] = []
            var sequence = 0
            for box in boxes {
                let dir = mailbox != nil || box.name == "INBOX" ? path : path + "/" + Maildir.folderDirectoryName(forMailbox: box.name)
                for sub in ["cur", "new", "tmp"] { try FileIO.createDirectory(dir + "/" + sub, mode: 0o700) }
                var count = 0
                for summary in try await backend.store.allMessages(in: box.id) {
                    let bytes = LineEndings.toLF(try await backend.store.messageBytes(in: box.id, uid: summary.uid))
                    let date = Date(timeIntervalSince1970: TimeInterval(summary.internalDate.seconds))
                    sequence += 1
                    let base = Maildir.uniqueName(time: date, sequence: sequence, pid: getpid(), host: ProcessInfo.processInfo.hostName)
                        + ",S=\(bytes.count),W=\(summary.size)"
                    let file = dir + "/cur/" + Maildir.filename(base: base, flags: Self.maildirFlags(summary.flags))
                    try FileIO.writeAtomically(bytes, to: file, mode: 0o600)
                    try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: file)
                    count += 1
                }
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

    func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure("\(path): cannot open for reading") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard size <= UInt64(limit) else { throw Failure("\(path): larger than \(limit) bytes") }
        try handle.seek(toOffset: 0)
        return [UInt8](try handle.readToEnd() ?? Data())
    }
}
