import Delivery
import Filters
import Logging
import MailAuth
import MailAuthentication
import MailCore
import MailQueue
import MailStore
import SMTPProtocol
import Foundation
import Metrics

/// Making an accepted message durable before we say so (DESIGN.md §4): local recipients'
/// copies are committed to the store (group commit), remote recipients go to the outbound
/// queue (fsync'd), and only then is 250 (or LMTP's per-recipient 250) sent.
enum MessageAcceptance {
    /// `Received:` fields a message may already carry. RFC 5321 §6.3 says a limit of at least
    /// 100 is usual before a message is taken to be looping; the hardening audit (issue 8) asks
    /// for 50, far above any real path, so loops end sooner.
    static let maxReceivedFields = 50

    /// `message` is the message as the client sent it, `received` our `Received:` field for it
    /// (RFC 5321 §4.4). Local copies share `message` as it is; only the queue needs both joined.
    /// `origin` is what the trace records of the session (client, TLS, authentication).
    /// `sign`: the client may have its mail DKIM-signed (authenticated, or in a trusted network).
    static func accept(_ message: [UInt8], received: [UInt8], transaction given: SMTPSession.Transaction, services: SMTPServices,
                       lmtp: Bool, origin: [String: String] = [:], sign: Bool = false, logger: Logger) async -> [SMTPReply] {
        var message = message
        var received = received
        var origin = origin
        // The envelope as the milters leave it; `given` stays as the client sent it.
        var transaction = given
        // RFC 2033 §4.2: LMTP answers every accepted recipient, refusals included.
        let refusal = { (reply: SMTPReply) in Array(repeating: reply, count: lmtp ? given.recipients.count : 1) }
        // The hops it came by, not counting ours; checked first: it needs no lookups.
        let hops = TraceFields.receivedCount(in: message)
        guard hops <= maxReceivedFields else {
            logger.warning("refused: mail loop", metadata: ["from": "<\(transaction.sender)>", "received_fields": "\(hops)"])
            Counter(label: "swallow_messages_refused_total", dimensions: [("reason", "loop")]).increment()
            return refusal(.tooManyHops)
        }
        var junk = false
        if !sign, !lmtp, let inbound = services.inbound {
            switch await authenticate(message, inbound: inbound, transaction: transaction, services: services, origin: &origin,
                                      logger: logger) {
            case .refused(let reply): return [reply]
            case .checked(let header, let quarantine):
                message = inbound.removingForgedResults(message)
                received += header
                junk = quarantine
            }
        }
        if let filters = services.filters {
            switch await scan(received + message, filters: filters, transaction: transaction, services: services, origin: origin,
                              trusted: sign, logger: logger) {
            case .refused(let reply): return refusal(reply)
            case .accepted(let headers, let toJunk, let subject):
                received += headers
                junk = junk || toJunk
                if let subject { message = ContentFilters.rewritingSubject(message, to: subject) }
            }
        }
        // What a retry of this transaction would bring again, before milters edit it.
        let clientMessage = message
        // Recipients a milter refused at RCPT (LMTP answers each).
        var milterRefused: [String: SMTPReply] = [:]
        if let filters = services.filters, !filters.configuration.milters.isEmpty {
            switch await milters(filters, received: &received, message: &message, transaction: &transaction, refused: &milterRefused,
                                 services: services, origin: origin, lmtp: lmtp, logger: logger) {
            case .answered(let replies): return replies
            case .accepted(let quarantined): junk = junk || quarantined
            }
        }
        if sign {
            // Signed last, over the message as it leaves (after the scanners' and milters' edits);
            // the signatures go in front of it, below our Received: field.
            received += dkimSignatures(message, services: services, logger: logger)
        }
        let now = Date()
        var accounts: [Account] = []
        for r in transaction.recipients {
            for a in r.accounts where !accounts.contains(where: { $0.id == a.id }) { accounts.append(a) }
        }
        var remote: [QueuedMessage.Recipient] = []
        for r in transaction.recipients {
            for address in r.remote where !remote.contains(where: { $0.address.lowercased() == address.lowercased() }) {
                remote.append(QueuedMessage.Recipient(address: address, originalRecipient: r.parameters.originalRecipient?.encoded,
                                                      notify: r.parameters.notify.map(describe), nextAttempt: now))
            }
        }
        logger.info("accepted", metadata: [
            "from": "<\(transaction.sender)>", "size": "\(received.count + message.count)",
            "local": "\(accounts.count)", "remote": "\(remote.count)",
        ])

        // Two commits (queue, then store), and the store's per account: if one fails after
        // another succeeded, the client's retry must not repeat what succeeded.
        let plan = await retryPlan(clientMessage, transaction: given, accounts: accounts, queueing: !remote.isEmpty,
                                   services: services, logger: logger)
        var queueFailure: String?
        if !remote.isEmpty && !plan.skips(.queue) {
            let queued = QueuedMessage(
                id: transaction.queueID, sender: transaction.sender, recipients: remote, arrival: now, bytes: received + message,
                envelopeID: transaction.parameters.envelopeID, returnFull: transaction.parameters.ret == .full,
                smtputf8: transaction.parameters.smtpUTF8, eightBit: transaction.parameters.body == .eightBitMIME,
                binary: transaction.parameters.body == .binaryMIME, acceptance: plan.mark)
            do {
                try await services.queue.enqueue([queued])
                logger.info("queued for remote delivery", metadata: ["to": "\(remote.map(\.address))"])
            } catch {
                queueFailure = "\(error)"
                logger.error("queue write failed", metadata: ["error": "\(error)"])
            }
        }
        if queueFailure == nil {
            Counter(label: "swallow_messages_accepted_total", dimensions: [("listener", origin["listener"] ?? "smtp")]).increment()
            services.trace?.received(
                TracedEnvelope(queueID: transaction.queueID, time: now, messageID: messageID(message), sender: transaction.sender,
                               recipients: transaction.recipients.map(\.address)),
                TraceEvent(queueID: transaction.queueID, time: now, kind: .received,
                           text: "received from \(origin["helo"] ?? "?") [\(origin["client"] ?? "?")] with \(origin["protocol"] ?? "SMTP")"
                               + (origin["auth"].map { ", authenticated as \($0)" } ?? ""),
                           data: origin.merging(["size": "\(received.count + message.count)"]) { a, _ in a }))
        }
        // Accounts skipped here have no outcome: below, that counts as delivered.
        let outcomes = await services.localDelivery.deliver(
            message, trace: received, sender: transaction.sender, to: accounts.filter { !plan.skips(.account($0.id.rawValue)) },
            internalDate: InternalDate(seconds: Int64(now.timeIntervalSince1970)), acceptance: plan.mark,
            // A Sieve reject can be this transaction's reply only when the message has no other
            // destination (one recipient, one account, nothing queued); otherwise it is reported.
            queueID: transaction.queueID, junk: junk, recipients: originalRecipients(transaction),
            mayRefuse: lmtp || (transaction.recipients.count == 1 && accounts.count == 1 && remote.isEmpty), accepted: now, logger: logger)

        if lmtp {
            // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
            return given.recipients.map { r in
                if let refused = milterRefused[r.address.lowercased()] { return refused }
                // Removed by a milter (SMFIR_DELRCPT): accepted, and not delivered.
                guard transaction.recipients.contains(where: { $0.address == r.address }) else {
                    return .deliveredTo(r.address, queueID: transaction.queueID.rawValue)
                }
                if queueFailure != nil && !r.remote.isEmpty { return .localError }
                for account in r.accounts {
                    guard let outcome = outcomes.first(where: { $0.0.id == account.id })?.1 else { continue }
                    if case .failed(let error) = outcome { return reply(for: error, recipient: r.address, services) }
                    if case .rejected(let reason) = outcome { return rejected(reason) }
                }
                return .deliveredTo(r.address, queueID: transaction.queueID.rawValue)
            }
        }
        let failures = outcomes.compactMap { outcome -> StoreError? in
            if case .failed(let e) = outcome.1 { return e } else { return nil }
        }
        if queueFailure != nil { return [.localError] }
        if outcomes.count == 1, case .rejected(let reason) = outcomes[0].1 { return [rejected(reason)] }
        if let first = failures.first {
            // With one recipient its own reason is exact; with several, a temporary failure makes
            // the client retry, and the retry skips the copies already stored (retryPlan).
            return [accounts.count == 1 ? reply(for: first, recipient: transaction.recipients[0].address, services) : .localError]
        }
        return [.queued(id: transaction.queueID.rawValue)]
    }

    /// `DKIM-Signature:` fields for the keys of the From: domain (RFC 6376 §5): none when the
    /// domain has no key. A signing failure is logged, and the message goes unsigned rather than
    /// not at all.
    static func dkimSignatures(_ message: [UInt8], services: SMTPServices, logger: Logger) -> [UInt8] {
        guard let keyring = services.dkim,
              let from = MessageHeader.parse(message).header.first("From"),
              let domain = AddressListEntry.parseAddressList(from.value).first?.mailboxes.first?.domain?.lowercased() else { return [] }
        let keys = keyring.signingKeys(for: domain)
        guard !keys.isEmpty else { return [] }
        do {
            let signatures = try DKIMSigner.sign(message, keys: keys)
            logger.info("dkim signed", metadata: ["domain": "\(domain)", "selectors": "\(keys.map(\.selector).joined(separator: ","))"])
            return signatures
        } catch {
            logger.error("dkim signing failed; sent unsigned", metadata: ["domain": "\(domain)", "error": "\(error)"])
            return []
        }
    }

    /// The Message-ID without its angle brackets, for finding the message in the trace.
    static func messageID(_ message: [UInt8]) -> String? {
        guard let field = MessageHeader.parse(message).header.first("Message-ID") else { return nil }
        var value = field.value.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("<"), value.hasSuffix(">"), value.count > 2 { value = String(value.dropFirst().dropLast()) }
        return value.isEmpty ? nil : String(value.prefix(998))
    }

    /// RFC 5429 §2.1: a Sieve reject refused at the protocol level, with the script's reason
    /// (one line, printable ASCII, bounded).
    static func rejected(_ reason: String) -> SMTPReply {
        let line = reason.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : " " }
        let text = String(String(line).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ").prefix(400))
        return SMTPReply(code: 550, enhanced: EnhancedStatus(5, 7, 1), text.isEmpty ? "rejected by the recipient's filter" : text)
    }

    /// The address each account was given as (RCPT TO, with its +detail), for Sieve.
    static func originalRecipients(_ transaction: SMTPSession.Transaction) -> [UserID: String] {
        var result: [UserID: String] = [:]
        for r in transaction.recipients {
            for a in r.accounts where result[a.id] == nil { result[a.id] = r.address }
        }
        return result
    }

    static func reply(for error: StoreError, recipient: String, _ services: SMTPServices) -> SMTPReply {
        switch error {
        case .overQuota: services.mailboxFull(recipient)
        case .tooLarge: .messageTooBig
        default: .localError
        }
    }

    static func describe(_ notify: RcptParameters.Notify) -> String {
        switch notify {
        case .never: return "NEVER"
        case .on(let c):
            var parts: [String] = []
            if c.contains(.success) { parts.append("SUCCESS") }
            if c.contains(.failure) { parts.append("FAILURE") }
            if c.contains(.delay) { parts.append("DELAY") }
            return parts.joined(separator: ",")
        }
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
