import MailAuth
import MailCore

public struct MailboxID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// RFC 6154 special-use attributes of the mailboxes the store creates for every user.
public enum SpecialUse: String, Sendable, CaseIterable, Hashable {
    case drafts = "\\Drafts"
    case sent = "\\Sent"
    case trash = "\\Trash"
    case junk = "\\Junk"
    case archive = "\\Archive"

    /// The mailboxes every account starts with, as Dovecot's `auto = create` namespace does.
    public static let defaultMailboxes: [(name: String, use: SpecialUse)] = [
        ("Drafts", .drafts), ("Sent", .sent), ("Trash", .trash), ("Junk", .junk), ("Archive", .archive),
    ]
}

/// IMAP system flags (RFC 9051 §2.3.2). `\Recent` is per session, not stored.
public struct SystemFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let seen = SystemFlags(rawValue: 1 << 0)
    public static let answered = SystemFlags(rawValue: 1 << 1)
    public static let flagged = SystemFlags(rawValue: 1 << 2)
    public static let deleted = SystemFlags(rawValue: 1 << 3)
    public static let draft = SystemFlags(rawValue: 1 << 4)
}

/// A message's flags: system flags plus keywords (RFC 9051 §2.3.2 flag-keyword atoms).
public struct MessageFlags: Sendable, Hashable {
    public var system: SystemFlags
    /// Keywords as given; IMAP compares them case-insensitively, so the store keeps one
    /// spelling per keyword (the first seen).
    public var keywords: [String]

    public init(system: SystemFlags = [], keywords: [String] = []) {
        self.system = system
        self.keywords = MessageFlags.normalized(keywords)
    }

    public static let none = MessageFlags()

    /// Case-insensitively unique, sorted, so that equal flag sets compare equal.
    public static func normalized(_ keywords: [String]) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for k in keywords where !k.isEmpty && seen.insert(k.lowercased()).inserted { result.append(k) }
        return result.sorted { $0.lowercased() < $1.lowercased() }
    }
}

/// How STORE changes flags (RFC 9051 §6.4.6: FLAGS, +FLAGS, -FLAGS).
public enum FlagOperation: Sendable {
    case add, remove, replace
}

/// A mailbox and its counters. `uidNext`, `highestModSeq` and the counts are a snapshot.
public struct MailboxInfo: Sendable, Hashable {
    public let id: MailboxID
    public let user: UserID
    /// Full name with `/` as the hierarchy delimiter, in UTF-8 (IMAP encodes it as modified
    /// UTF-7 or sends UTF-8 under IMAP4rev2/UTF8=ACCEPT).
    public let name: String
    public let uidValidity: UInt32
    public let uidNext: UInt32
    public let highestModSeq: UInt64
    public let specialUse: SpecialUse?
    public let subscribed: Bool
    /// False for a name kept only because it has children (IMAP `\Noselect`).
    public let selectable: Bool
    public let messageCount: Int
    public let unseenCount: Int
    public let deletedCount: Int
    /// Sum of message sizes (IMAP STATUS SIZE, RFC 8438).
    public let totalSize: Int64

    public init(id: MailboxID, user: UserID, name: String, uidValidity: UInt32, uidNext: UInt32, highestModSeq: UInt64,
                specialUse: SpecialUse?, subscribed: Bool, selectable: Bool, messageCount: Int, unseenCount: Int,
                deletedCount: Int, totalSize: Int64) {
        self.id = id; self.user = user; self.name = name; self.uidValidity = uidValidity; self.uidNext = uidNext
        self.highestModSeq = highestModSeq; self.specialUse = specialUse; self.subscribed = subscribed
        self.selectable = selectable; self.messageCount = messageCount; self.unseenCount = unseenCount
        self.deletedCount = deletedCount; self.totalSize = totalSize
    }
}

/// A message's metadata, everything IMAP needs without reading the bytes.
public struct MessageSummary: Sendable, Hashable {
    public let uid: UInt32
    public let modSeq: UInt64
    public let flags: MessageFlags
    public let internalDate: InternalDate
    public let size: Int

    public init(uid: UInt32, modSeq: UInt64, flags: MessageFlags, internalDate: InternalDate, size: Int) {
        self.uid = uid; self.modSeq = modSeq; self.flags = flags; self.internalDate = internalDate; self.size = size
    }
}

/// IMAP INTERNALDATE: an instant and the zone it was given in (RFC 9051 §2.3.3), so a date
/// set by APPEND is returned with its own offset.
public struct InternalDate: Sendable, Hashable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let seconds: Int64
    /// Offset from UTC in minutes (e.g. +60 for +0100).
    public let zoneMinutes: Int

    public init(seconds: Int64, zoneMinutes: Int = 0) {
        self.seconds = seconds
        self.zoneMinutes = zoneMinutes
    }
}

/// Bytes that several stored copies of one message share. Local delivery to many accounts
/// gives every copy the same `MessageBody` instance, and a store keeps the bytes once for all
/// the copies of one `deliver(_:)` call that refer to that instance, so one delivery costs
/// the message's size, not the message's size times the recipients (in memory and on disk).
public final class MessageBody: Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var count: Int { bytes.count }
}

/// A message to store, kept byte for byte. Its bytes, as IMAP, POP3 and export see them (and as
/// its size counts them), are `prefix` followed by `body`.
public struct NewMessage: Sendable {
    /// Bytes of this copy alone: local delivery's `Return-Path:` and `Delivered-To:` fields
    /// (RFC 5321 §4.4), which differ per account.
    public var prefix: [UInt8]
    public var body: MessageBody
    public var flags: MessageFlags
    public var internalDate: InternalDate

    public init(bytes: [UInt8], flags: MessageFlags = .none, internalDate: InternalDate) {
        self.init(prefix: [], body: MessageBody(bytes), flags: flags, internalDate: internalDate)
    }

    public init(prefix: [UInt8], body: MessageBody, flags: MessageFlags = .none, internalDate: InternalDate) {
        self.prefix = prefix; self.body = body; self.flags = flags; self.internalDate = internalDate
    }

    /// The stored size (RFC 9051 RFC822.SIZE): prefix and body.
    public var size: Int { prefix.count + body.count }
}

/// Where an appended message landed (UIDPLUS APPENDUID, RFC 4315 §3).
public struct AppendResult: Sendable, Hashable {
    public let mailbox: MailboxID
    public let uidValidity: UInt32
    public let uid: UInt32
    public let modSeq: UInt64

    public init(mailbox: MailboxID, uidValidity: UInt32, uid: UInt32, modSeq: UInt64) {
        self.mailbox = mailbox; self.uidValidity = uidValidity; self.uid = uid; self.modSeq = modSeq
    }
}

/// One message for one account's mailbox: the unit of local delivery.
public struct Delivery: Sendable {
    public var user: UserID
    public var mailbox: String
    /// Deliver into the account's mailbox with this special use (RFC 6154), whatever its name
    /// (`\\Junk` for spam); `mailbox` when the account has none.
    public var specialUse: SpecialUse?
    public var message: NewMessage
    /// Set when this copy is one of several commits of one SMTP acceptance: the store records
    /// it (and the mark's carried targets) in the transaction that stores the copy.
    public var acceptance: AcceptanceMark?
    /// Create `mailbox` (and its parents) when it does not exist (Sieve `fileinto :create`,
    /// RFC 5490 §3.2); otherwise a missing mailbox fails the delivery with `.notFound`.
    public var create: Bool

    public init(user: UserID, mailbox: String = "INBOX", specialUse: SpecialUse? = nil, message: NewMessage,
                acceptance: AcceptanceMark? = nil, create: Bool = false) {
        self.user = user; self.mailbox = mailbox; self.specialUse = specialUse; self.message = message; self.acceptance = acceptance
        self.create = create
    }
}

/// COPY/MOVE results (UIDPLUS COPYUID, RFC 4315 §3): source UID to destination UID, in order.
public struct CopyResult: Sendable, Hashable {
    public let destination: MailboxID
    public let uidValidity: UInt32
    public let uids: [(source: UInt32, destination: UInt32)]

    public init(destination: MailboxID, uidValidity: UInt32, uids: [(source: UInt32, destination: UInt32)]) {
        self.destination = destination; self.uidValidity = uidValidity; self.uids = uids
    }

    public static func == (a: CopyResult, b: CopyResult) -> Bool {
        a.destination == b.destination && a.uidValidity == b.uidValidity
            && a.uids.map(\.source) == b.uids.map(\.source) && a.uids.map(\.destination) == b.uids.map(\.destination)
    }
    public func hash(into h: inout Hasher) {
        h.combine(destination); h.combine(uidValidity)
        for p in uids { h.combine(p.source); h.combine(p.destination) }
    }
}

/// STORE results (RFC 7162 §3.1.3): the messages whose flags changed, with their new MODSEQ,
/// and the UIDs left alone because they changed after UNCHANGEDSINCE.
public struct FlagUpdateResult: Sendable, Hashable {
    public let updated: [MessageSummary]
    public let modified: [UInt32]
    public init(updated: [MessageSummary], modified: [UInt32]) {
        self.updated = updated; self.modified = modified
    }
}

/// Storage used by one account (RFC 9208 STORAGE and MESSAGE resources).
public struct QuotaUsage: Sendable, Hashable {
    public let bytes: Int64
    public let messages: Int64
    /// 0 means unlimited.
    public let limitBytes: Int64
    /// 0 means unlimited.
    public let limitMessages: Int64
    public init(bytes: Int64, messages: Int64, limitBytes: Int64, limitMessages: Int64 = 0) {
        self.bytes = bytes; self.messages = messages; self.limitBytes = limitBytes; self.limitMessages = limitMessages
    }

    /// Whether any resource is limited (the account has a quota root, RFC 9208 §3).
    public var isLimited: Bool { limitBytes > 0 || limitMessages > 0 }

    /// Whether the account is at a limit: nothing more fits, so RCPT is refused.
    public var isFull: Bool {
        (limitBytes > 0 && bytes >= limitBytes) || (limitMessages > 0 && messages >= limitMessages)
    }

    /// The highest share of a limit in use, in whole percent (0 when unlimited).
    public var percentUsed: Int {
        let b = limitBytes > 0 ? Double(bytes) / Double(limitBytes) : 0
        let m = limitMessages > 0 ? Double(messages) / Double(limitMessages) : 0
        return Int((max(b, m) * 100).rounded(.down))
    }
}

/// A mailbox's changes after a MODSEQ, from one snapshot (`MailStore.sync`).
public struct MailboxSync: Sendable {
    public let uidValidity: UInt32
    public let uidNext: UInt32
    public let highestModSeq: UInt64
    /// Messages whose MODSEQ is greater than the one asked about, in UID order.
    public let changed: [MessageSummary]
    /// UIDs expunged after it, ascending.
    public let expunged: [UInt32]

    public init(uidValidity: UInt32, uidNext: UInt32, highestModSeq: UInt64, changed: [MessageSummary], expunged: [UInt32]) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModSeq = highestModSeq
        self.changed = changed
        self.expunged = expunged
    }
}
