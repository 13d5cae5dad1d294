/// Making a client's retry idempotent when accepting its message took more than one commit.
///
/// Accepting a message commits to the outbound queue and to the mailbox store, two databases,
/// and the store's delivery transaction may succeed for some accounts and fail for others (a
/// full mailbox). When one commit succeeds and another fails, the client is told 451 and sends
/// the same message again; without a record, what had succeeded would then happen twice.
///
/// So each commit of such an acceptance records, in its own transaction, which targets it
/// committed, under a fingerprint of what the client sent (envelope and bytes) and the attempt
/// (its queue ID). A later transaction with the same fingerprint looks at the latest attempt:
/// if that one committed every target, the client was told 250 and the same bytes again are a
/// new message (a resend, a monitoring probe) to be delivered in full; otherwise the client is
/// retrying, and the targets already committed are skipped, and recorded again for the new
/// attempt with its own commits so that its record is complete when it succeeds.
public enum AcceptanceLedger {
    /// Seconds an entry is kept: clients retry a 4xx within minutes to hours (RFC 5321
    /// §4.5.4.1 suggests 30 minutes between attempts).
    public static let retention: Int64 = 24 * 60 * 60

    /// The targets of this acceptance that an earlier, unfinished attempt already committed.
    public static func alreadyCommitted(_ entries: [AcceptanceEntry], targets: Set<AcceptanceTarget>) -> Set<AcceptanceTarget> {
        // Queue IDs sort by time (QueueID.make), so the greatest is the latest attempt.
        guard let latest = entries.map(\.attempt).max() else { return [] }
        let committed = Set(entries.filter { $0.attempt == latest }.map(\.target))
        return committed.isSuperset(of: targets) ? [] : committed.intersection(targets)
    }
}

/// Where an acceptance commits: the outbound queue, or one account's mailbox.
public enum AcceptanceTarget: Hashable, Sendable, CustomStringConvertible {
    case queue
    case account(Int64)

    /// The form stored in the `acceptance` tables.
    public var description: String {
        switch self {
        case .queue: "queue"
        case .account(let id): "account:\(id)"
        }
    }

    public init?(_ text: String) {
        if text == "queue" {
            self = .queue
        } else if text.hasPrefix("account:"), let id = Int64(text.dropFirst("account:".count)) {
            self = .account(id)
        } else {
            return nil
        }
    }
}

/// One target an attempt recorded as committed.
public struct AcceptanceEntry: Hashable, Sendable {
    public let target: AcceptanceTarget
    /// The queue ID of the attempt.
    public let attempt: String

    public init(target: AcceptanceTarget, attempt: String) {
        self.target = target
        self.attempt = attempt
    }
}

/// What a commit of an acceptance with several targets records with it.
public struct AcceptanceMark: Hashable, Sendable {
    /// SHA-256 of the envelope and the message as the client sent it.
    public let fingerprint: [UInt8]
    /// This attempt's queue ID.
    public let attempt: String
    /// Targets an earlier attempt committed, which this one skips: recorded again, for this
    /// attempt, with each of its commits.
    public let carried: [AcceptanceTarget]

    public init(fingerprint: [UInt8], attempt: String, carried: [AcceptanceTarget]) {
        self.fingerprint = fingerprint
        self.attempt = attempt
        self.carried = carried
    }
}
