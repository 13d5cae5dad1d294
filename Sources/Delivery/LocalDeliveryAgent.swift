import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import Metrics

/// The MDA: puts one accepted message into each local recipient's INBOX.
///
/// Each copy gets `Return-Path:` (RFC 5321 §4.4) and `Delivered-To:` (the account it was
/// delivered to, as Postfix's local(8) writes it, so loops through aliases can be seen) on top
/// of the message as accepted. One copy per account, however many recipients resolved to it.
/// Those two fields are the only bytes a copy has of its own: the rest is one `MessageBody` that
/// all the copies share, so a delivery to many accounts holds and stores the message once.
public struct LocalDeliveryAgent: Sendable {
    public enum Outcome: Sendable, Equatable {
        case delivered(AppendResult)
        case failed(StoreError)
        /// The account's Sieve script kept no copy (discard, redirect, or a reject reported to
        /// the sender).
        case filtered
        /// The account's Sieve script rejected the message and the caller may refuse it at the
        /// protocol level (RFC 5429 §2.1 ereject/reject): `550 5.7.1` with this reason.
        case rejected(String)
        /// Written to the account's mbox file or Maildir (`[delivery]`), at this path.
        case written(String)
    }

    let committer: GroupCommitter
    /// Where each copy is recorded for `swallow trace` (nil: not traced).
    let trace: MessageTrace?
    /// Users' Sieve scripts (nil: no filtering, every copy to INBOX).
    let sieve: SieveFiltering?
    /// The "mailbox nearly full" message (nil: none).
    let quotaWarning: QuotaWarning?
    /// mbox and Maildir targets (nil: every account's mail goes into the store).
    let spool: MailSpool?

    public init(committer: GroupCommitter, trace: MessageTrace? = nil, sieve: SieveFiltering? = nil, quotaWarning: QuotaWarning? = nil,
                spool: MailSpool? = nil) {
        self.committer = committer
        self.trace = trace
        self.sieve = sieve
        self.quotaWarning = quotaWarning
        self.spool = spool
    }

    /// Delivers `message` (CRLF text) to each account once, each copy starting with its own
    /// trace fields and then `trace` (our `Received:` field, kept apart so that the message as
    /// the client sent it is shared as it is, without a copy). `sender` is the envelope sender,
    /// "" for the null sender. `acceptance` marks the copies as commits of one SMTP acceptance
    /// with several, which the store records with them (`AcceptanceLedger`). `junk`: the spam
    /// filter said so; the kept copy goes into the account's `\Junk` mailbox instead of INBOX.
    /// `recipients`: the address each account was reached by (RCPT TO, with any `+detail`), for
    /// Sieve's `envelope "to"`. `mayRefuse`: a Sieve reject may be answered at the protocol level
    /// (`.rejected`) instead of by a report to the sender. `accepted`: when the message was
    /// accepted, for the accept → mailbox latency.
    public func deliver(_ message: [UInt8], trace: [UInt8] = [], sender: String, to accounts: [Account],
                        internalDate: InternalDate, acceptance: AcceptanceMark? = nil, queueID: QueueID? = nil,
                        junk: Bool = false, recipients: [UserID: String] = [:], mayRefuse: Bool = false,
                        accepted: Date = Date(), logger: Logger) async -> [(Account, Outcome)] {
        var unique: [Account] = []
        for account in accounts where !unique.contains(where: { $0.id == account.id }) { unique.append(account) }
        let body = MessageBody(message)
        var deliveries: [Delivery] = []
        var owners: [Int] = []
        var plans: [SieveFiltering.Plan?] = []
        // Copies for accounts whose mail goes to files: (account index, folder; nil is INBOX).
        var spooled: [(Int, String?)] = []
        for (index, account) in unique.enumerated() {
            let prefix = Self.traceHeaders(sender: sender, recipient: account.address) + trace
            let toFiles = spool.map { $0.target(for: account) != .store } ?? false
            let plan = await sieve?.plan(for: account, message: prefix + message, sender: sender,
                                         recipient: recipients[account.id] ?? account.address, foldersOnDemand: toFiles, logger: logger)
            plans.append(plan)
            let copies = plan?.copies ?? [(nil, .none, false)]
            if toFiles {
                spooled += copies.map { (index, $0.mailbox ?? (junk ? "Junk" : nil)) }
                continue
            }
            for copy in copies {
                let kept = copy.mailbox == nil
                deliveries.append(Delivery(user: account.id, mailbox: copy.mailbox ?? "INBOX", specialUse: kept && junk ? .junk : nil,
                                           message: NewMessage(prefix: prefix, body: body, flags: copy.flags, internalDate: internalDate),
                                           acceptance: acceptance, create: copy.create))
                owners.append(index)
            }
        }
        let results = deliveries.isEmpty ? [] : await committer.submit(deliveries)
        var events: [TraceEvent] = []
        var outcomes: [(Account, Outcome)] = []
        for (index, account) in unique.enumerated() {
            var outcome: Outcome?
            for (n, result) in results.enumerated() where owners[n] == index {
                let mailbox = deliveries[n].specialUse == .junk ? "Junk" : deliveries[n].mailbox
                switch result {
                case .success(let r):
                    logger.info("delivered", metadata: ["to": "\(account.address)", "mailbox": "\(mailbox)", "uid": "\(r.uid)"])
                    Counter(label: "swallow_messages_delivered_total", dimensions: [("where", "local")]).increment()
                    // Accepted (SMTP/LMTP, or the queue's arrival) → in the mailbox.
                    Timer(label: "swallow_delivery_latency_seconds", dimensions: [("where", "local")])
                        .recordSeconds(max(0, Date().timeIntervalSince(accepted)))
                    if let queueID {
                        events.append(TraceEvent(queueID: queueID, kind: .delivered, recipient: account.address,
                                                 text: "delivered to \(account.address) \(mailbox), UID \(r.uid)",
                                                 data: ["mailbox": mailbox, "uid": "\(r.uid)"]))
                    }
                    if outcome == nil { outcome = .delivered(r) }
                case .failure(let e):
                    logger.warning("local delivery failed", metadata: ["to": "\(account.address)", "mailbox": "\(mailbox)", "error": "\(e)"])
                    if let queueID {
                        events.append(TraceEvent(queueID: queueID, kind: .deferred, recipient: account.address,
                                                 text: "local delivery to \(account.address) failed: \(e)", data: ["reply": "\(e)"]))
                    }
                    if case .failed = outcome {} else { outcome = .failed(e) }
                }
            }
            if let spool {
                for (owner, folder) in spooled where owner == index {
                    let copy = Self.traceHeaders(sender: sender, recipient: account.address) + trace + message
                    do {
                        let path = try await spool.deliver(copy, sender: sender, account: account, folder: folder)
                        logger.info("delivered", metadata: ["to": "\(account.address)", "file": "\(path)"])
                        Counter(label: "swallow_messages_delivered_total", dimensions: [("where", "local")]).increment()
                        if let queueID {
                            events.append(TraceEvent(queueID: queueID, kind: .delivered, recipient: account.address,
                                                     text: "delivered to \(account.address) in \(path)", data: ["file": path]))
                        }
                        if outcome == nil { outcome = .written(path) }
                    } catch {
                        logger.warning("local delivery failed", metadata: ["to": "\(account.address)", "error": "\(error)"])
                        if let queueID {
                            events.append(TraceEvent(queueID: queueID, kind: .deferred, recipient: account.address,
                                                     text: "local delivery to \(account.address) failed: \(error)", data: ["reply": "\(error)"]))
                        }
                        outcome = .failed(.temporary(error.description))
                    }
                }
            }
            if let plan = plans[index], let sieve {
                let refused = mayRefuse && plan.reject != nil && plan.copies.isEmpty
                if refused, let reason = plan.reject { outcome = .rejected(reason) }
                do {
                    try await sieve.carryOut(plan, account: account, message: Self.traceHeaders(sender: sender, recipient: account.address)
                                                + trace + message, sender: sender, refused: refused, logger: logger)
                    if let queueID, !plan.redirects.isEmpty {
                        events.append(TraceEvent(queueID: queueID, kind: .delivered, recipient: account.address,
                                                 text: "redirected by \(account.address)'s filter to \(plan.redirects.joined(separator: ", "))",
                                                 data: ["redirect": plan.redirects.joined(separator: ",")]))
                    }
                } catch {
                    logger.error("sieve: could not queue a redirect, reply or report", metadata: ["to": "\(account.address)", "error": "\(error)"])
                    outcome = .failed(.temporary("cannot queue what the filter asked: \(error)"))
                }
            }
            if case .delivered = outcome { await quotaWarning?.check(account, logger: logger) }
            outcomes.append((account, outcome ?? .filtered))
        }
        self.trace?.record(events)
        return outcomes
    }

    static func traceHeaders(sender: String, recipient: String) -> [UInt8] {
        Array("Return-Path: <\(sender)>\r\nDelivered-To: \(recipient)\r\n".utf8)
    }
}
