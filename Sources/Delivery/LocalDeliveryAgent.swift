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
    }

    let committer: GroupCommitter
    /// Where each copy is recorded for `swallow trace` (nil: not traced).
    let trace: MessageTrace?

    public init(committer: GroupCommitter, trace: MessageTrace? = nil) {
        self.committer = committer
        self.trace = trace
    }

    /// Delivers `message` (CRLF text) to each account once, each copy starting with its own
    /// trace fields and then `trace` (our `Received:` field, kept apart so that the message as
    /// the client sent it is shared as it is, without a copy). `sender` is the envelope sender,
    /// "" for the null sender. `acceptance` marks the copies as commits of one SMTP acceptance
    /// with several, which the store records with them (`AcceptanceLedger`). `junk`: the spam
    /// filter said so; each copy goes into the account's `\\Junk` mailbox instead of INBOX.
    public func deliver(_ message: [UInt8], trace: [UInt8] = [], sender: String, to accounts: [Account],
                        internalDate: InternalDate, acceptance: AcceptanceMark? = nil, queueID: QueueID? = nil,
                        junk: Bool = false, logger: Logger) async -> [(Account, Outcome)] {
        var unique: [Account] = []
        for account in accounts where !unique.contains(where: { $0.id == account.id }) { unique.append(account) }
        let body = MessageBody(message)
        let deliveries = unique.map { account in
            Delivery(user: account.id, mailbox: "INBOX", specialUse: junk ? .junk : nil,
                     message: NewMessage(prefix: Self.traceHeaders(sender: sender, recipient: account.address) + trace,
                                         body: body, internalDate: internalDate),
                     acceptance: acceptance)
        }
        let results = await committer.submit(deliveries)
        var events: [TraceEvent] = []
        let outcomes = zip(unique, results).map { account, result -> (Account, Outcome) in
            switch result {
            case .success(let r):
                logger.info("delivered", metadata: ["to": "\(account.address)", "mailbox": "\(junk ? "Junk" : "INBOX")", "uid": "\(r.uid)"])
                Counter(label: "swallow_messages_delivered_total", dimensions: [("where", "local")]).increment()
                if let queueID {
                    events.append(TraceEvent(queueID: queueID, kind: .delivered, recipient: account.address,
                                             text: "delivered to \(account.address) \(junk ? "Junk" : "INBOX"), UID \(r.uid)",
                                             data: ["mailbox": junk ? "Junk" : "INBOX", "uid": "\(r.uid)"]))
                }
                return (account, .delivered(r))
            case .failure(let e):
                logger.warning("local delivery failed", metadata: ["to": "\(account.address)", "error": "\(e)"])
                if let queueID {
                    events.append(TraceEvent(queueID: queueID, kind: .deferred, recipient: account.address,
                                             text: "local delivery to \(account.address) failed: \(e)", data: ["reply": "\(e)"]))
                }
                return (account, .failed(e))
            }
        }
        self.trace?.record(events)
        return outcomes
    }

    static func traceHeaders(sender: String, recipient: String) -> [UInt8] {
        Array("Return-Path: <\(sender)>\r\nDelivered-To: \(recipient)\r\n".utf8)
    }
}
