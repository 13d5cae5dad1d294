import Foundation

/// Sieve (RFC 5228): a user's mail filter, parsed once and run at each delivery.
///
/// The module is pure: no I/O, no clock of its own, no store. `SieveScript.parse` refuses a
/// script that does not parse or uses an extension it did not `require` (with line and column,
/// what ManageSieve's PUTSCRIPT and `swallow sieve put` report); `run` evaluates it against one
/// message and returns the actions to carry out. The caller (the delivery agent) carries them
/// out: files copies, queues redirects and vacation replies, and keeps vacation's
/// once-per-sender memory.
public struct SieveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based position of the token at fault.
    public let line: Int
    public let column: Int
    public let message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// What one delivery gives the script to look at.
public struct SieveContext: Sendable {
    /// The message as it will be stored (CRLF line ends, header section then body).
    public var message: [UInt8]
    /// The envelope sender (MAIL FROM), "" for the null sender `<>`.
    public var envelopeFrom: String
    /// The envelope recipient as the client gave it in RCPT TO (with any `+detail`).
    public var envelopeTo: String
    /// The account's own addresses: vacation answers only mail addressed to one of them
    /// (RFC 5230 §4.5), and never replies to them.
    public var userAddresses: [String]
    /// The time of delivery, for `currentdate` (RFC 5260) and `date` without a zone.
    public var now: Date
    /// The local time zone's offset from UTC in seconds, for `date`/`currentdate` without `:zone`.
    public var localOffset: Int
    /// Whether a mailbox exists (`mailboxexists`, RFC 5490; `fileinto` without `:create`).
    public var mailboxExists: @Sendable (String) -> Bool

    public init(message: [UInt8], envelopeFrom: String, envelopeTo: String, userAddresses: [String],
                now: Date = Date(), localOffset: Int = 0, mailboxExists: @escaping @Sendable (String) -> Bool = { _ in true }) {
        self.message = message
        self.envelopeFrom = envelopeFrom
        self.envelopeTo = envelopeTo
        self.userAddresses = userAddresses
        self.now = now
        self.localOffset = localOffset
        self.mailboxExists = mailboxExists
    }
}

/// A vacation reply (RFC 5230) the script asked for, after the checks that depend only on the
/// message (the sender is not `<>`, not a list, not an automatic reply, and the message was
/// addressed to the user). The caller still applies the once-per-`period` memory keyed by
/// (`handle`, `recipient`) and sends it through the outbound queue with `MAIL FROM:<>`.
public struct SieveVacation: Sendable, Equatable {
    /// Whom the reply goes to: the envelope sender.
    public var recipient: String
    /// The `From:` of the reply (`:from`), nil for the user's address.
    public var from: String?
    /// The reply's subject: `:subject`, or "Auto: " and the original subject.
    public var subject: String
    /// The reply's body text (`:mime`: a MIME entity with its own header section).
    public var reason: String
    public var mime: Bool
    /// Identifies "the same vacation message" for the memory (`:handle`, or derived from the
    /// arguments as RFC 5230 §4.2 says).
    public var handle: String
    /// How long before the same sender gets another reply (`:days`, `:seconds`; default 7 days).
    public var period: Int
    /// The original's Message-ID, for the reply's In-Reply-To and References.
    public var inReplyTo: String?

    public init(recipient: String, from: String?, subject: String, reason: String, mime: Bool, handle: String,
                period: Int, inReplyTo: String?) {
        self.recipient = recipient
        self.from = from
        self.subject = subject
        self.reason = reason
        self.mime = mime
        self.handle = handle
        self.period = period
        self.inReplyTo = inReplyTo
    }
}

/// One thing to do with the message. `flags` are IMAP flags (RFC 5232) to store it with.
public enum SieveAction: Sendable, Equatable {
    /// Store in INBOX (an explicit `keep`, or the implicit keep).
    case keep(flags: [String])
    /// Store in `mailbox` (`fileinto`); `create` (RFC 5490 `:create`): make it if missing.
    case fileinto(mailbox: String, flags: [String], create: Bool)
    /// Send on to `address` (`redirect`).
    case redirect(address: String)
    /// Refuse the message (RFC 5429). `ereject`: at the protocol level when possible.
    case reject(reason: String, ereject: Bool)
    case vacation(SieveVacation)
}

/// The result of one run: the actions in the order the script gave them, with the implicit
/// keep at the end when nothing cancelled it. No action at all means the message is discarded.
/// `error`: the run failed (RFC 5228 §2.10.6): `actions` is then the implicit keep alone.
public struct SieveOutcome: Sendable, Equatable {
    public var actions: [SieveAction]
    public var error: String?
    /// Whether the last action is the implicit keep (nothing cancelled it), and whether the
    /// script ended with `stop`: a global script run before the user's (Dovecot's
    /// `sieve_before`) ends the sequence with `stop`, and cancels the implicit keep for it.
    public var implicitKeep: Bool
    public var stopped: Bool

    public init(actions: [SieveAction], error: String? = nil, implicitKeep: Bool = false, stopped: Bool = false) {
        self.actions = actions
        self.error = error
        self.implicitKeep = implicitKeep
        self.stopped = stopped
    }
}
