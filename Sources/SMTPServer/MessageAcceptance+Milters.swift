import Filters
import Logging
import MailAuth
import MailCore
import Metrics
import SMTPProtocol

/// `[[filters.milter]]`: Sendmail/Postfix mail filters, asked once per message at the end of DATA
/// with the whole transaction replayed (as Postfix does for its non_smtpd_milters), and their
/// verdict and edits carried out.
///
/// They run after the virus and spam scanners: virus scanning stays mandatory whatever a milter
/// answers (an SMFIR_ACCEPT cannot skip it), an infected message never reaches a milter that
/// signs, archives or counts it, and a signing milter (OpenDKIM) sees the message in its final
/// form, with the scanners' headers and rewritten Subject, so nothing changes after it signed.
extension MessageAcceptance {
    enum Miltered {
        /// Go on with the (perhaps edited) message and envelope.
        case accepted(quarantined: Bool)
        /// Answer with these: a refusal, or a discard's acceptance.
        case answered([SMTPReply])
    }

    /// `received` + `message` as they will be stored; on return both may be replaced (the edited
    /// message then lies wholly in `message`), and `transaction` has the milters' sender and
    /// recipients. `refused`: recipients refused at RCPT, by lowercased address, for LMTP's
    /// per-recipient replies.
    static func milters(_ filters: ContentFilters, received: inout [UInt8], message: inout [UInt8],
                        transaction: inout SMTPSession.Transaction, refused: inout [String: SMTPReply], services: SMTPServices,
                        origin: [String: String], lmtp: Bool, logger: Logger) async -> Miltered {
        // Our Received: field is the first of `received`: hidden from the milters (milter8.c).
        let t = MilterTransaction(envelope: scanEnvelope(transaction, services: services, origin: origin),
                                  message: MilterMessage(received + message, hiddenFields: 1))
        let verdict = await filters.runMilters(t, logger: logger)
        let everyone = transaction.recipients.count
        switch verdict.decision {
        case .refuse(let r):
            Counter(label: "swallow_messages_refused_total", dimensions: [("reason", r.code >= 500 ? "milter" : "milter_tempfail")]).increment()
            return .answered(Array(repeating: reply(r), count: lmtp ? everyone : 1))
        case .discard:
            return .answered(accepted(transaction, refused: [:], lmtp: lmtp))
        case .accept:
            break
        }
        for r in verdict.refusedRecipients { refused[r.address.lowercased()] = reply(r.reply) }
        if let edited = verdict.message {
            received = []
            message = edited
        }
        transaction.sender = verdict.sender
        var recipients: [SMTPSession.Recipient] = []
        for address in verdict.recipients {
            if let kept = transaction.recipients.first(where: { $0.address.lowercased() == address.lowercased() }) {
                recipients.append(kept)
                continue
            }
            // Added by a milter: trusted by configuration, so routed like any recipient, without
            // the relay check a client's RCPT gets.
            guard let parsed = EmailAddress(address), !parsed.domain.isEmpty else {
                logger.warning("milter added an invalid recipient: ignored", metadata: ["rcpt": "\(address)"])
                continue
            }
            do {
                switch try await services.directory.resolve(recipient: parsed.description) {
                case .notLocal:
                    recipients.append(SMTPSession.Recipient(address: parsed.description, parameters: RcptParameters(), accounts: [],
                                                            remote: [parsed.description]))
                case .deliver(let accounts, let forward):
                    recipients.append(SMTPSession.Recipient(address: parsed.description, parameters: RcptParameters(), accounts: accounts,
                                                            remote: forward))
                case .unknownUser:
                    logger.warning("milter added an unknown local recipient: not delivered", metadata: ["rcpt": "\(parsed)"])
                }
            } catch {
                logger.error("recipient lookup failed", metadata: ["rcpt": "\(parsed)", "error": "\(error)"])
                return .answered(Array(repeating: .temporaryLookupFailure, count: lmtp ? everyone : 1))
            }
        }
        let before = transaction
        transaction.recipients = recipients
        if recipients.isEmpty {
            if let last = verdict.refusedRecipients.last, verdict.refusedRecipients.count == everyone {
                return .answered(Array(repeating: reply(last.reply), count: lmtp ? everyone : 1))
            }
            logger.notice("milters left no recipient: accepted and not delivered")
            return .answered(accepted(before, refused: refused, lmtp: lmtp))
        }
        return .accepted(quarantined: !verdict.quarantine.isEmpty)
    }

    /// A milter's reply as ours (`MilterSMTPReply` checked it: 4xx/5xx, printable, bounded).
    static func reply(_ r: MilterSMTPReply) -> SMTPReply {
        SMTPReply(code: r.code, enhanced: r.enhanced.map { EnhancedStatus($0[0], $0[1], $0[2]) }, lines: r.lines)
    }

    /// 250 for a message accepted and not delivered (a discard): one reply, or LMTP's one per
    /// recipient, the refused ones getting their refusal.
    static func accepted(_ transaction: SMTPSession.Transaction, refused: [String: SMTPReply], lmtp: Bool) -> [SMTPReply] {
        guard lmtp else { return [.queued(id: transaction.queueID.rawValue)] }
        return transaction.recipients.map { refused[$0.address.lowercased()] ?? .deliveredTo($0.address, queueID: transaction.queueID.rawValue) }
    }
}
