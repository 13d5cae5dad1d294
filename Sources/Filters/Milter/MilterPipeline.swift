import Foundation
import Logging
import Metrics

/// What the configured milters, run in order, made of a message.
public struct MilterVerdict: Sendable {
    public enum Decision: Sendable, Equatable {
        case accept
        /// Refuse the whole message with this reply.
        case refuse(MilterSMTPReply)
        /// Answer 250 and store nothing.
        case discard
    }

    public var decision: Decision = .accept
    /// The message with the filters' header and body edits; nil when there were none.
    public var message: [UInt8]?
    /// The envelope after SMFIR_CHGFROM, SMFIR_ADDRCPT(_PAR), SMFIR_DELRCPT and refusals at RCPT.
    public var sender: String
    public var recipients: [String]
    /// Refused at RCPT: not delivered; LMTP answers them with this reply.
    public var refusedRecipients: [MilterOutcome.RefusedRecipient] = []
    /// SMFIR_QUARANTINE reasons: the message goes to each local recipient's Junk mailbox.
    public var quarantine: [String] = []
}

extension ContentFilters {
    static let milterUnavailable = MilterSMTPReply(code: 451, enhanced: [4, 7, 1], lines: [unavailable])

    /// Runs every `[[filters.milter]]` in order on the transaction, each seeing the envelope and
    /// message as the ones before it left them. A milter that fails gets its `default_action`:
    /// `tempfail` refuses with `451 4.7.1`, `accept` goes on as if it were not configured (its
    /// edits, if any came before the failure, are not applied).
    public func runMilters(_ start: MilterTransaction, logger: Logger) async -> MilterVerdict {
        var t = start
        var verdict = MilterVerdict(sender: t.sender, recipients: t.recipients)
        var edited = false
        for milter in configuration.milters {
            // Every recipient gone (SMFIR_DELRCPT): nothing left to show the next filter.
            guard !t.recipients.isEmpty else { break }
            var logger = logger
            logger[metadataKey: "milter"] = "\(milter.address)"
            let outcome: MilterOutcome
            do {
                outcome = try await MilterClient(address: milter.address, timeout: milter.timeout).converse(MilterConversation(t))
            } catch {
                Self.count("unavailable")
                logger.error("milter unavailable", metadata: ["error": "\(error)", "default_action": "\(milter.defaultAction.rawValue)"])
                if milter.defaultAction == .tempfail {
                    verdict.decision = .refuse(Self.milterUnavailable)
                    return verdict
                }
                continue
            }
            for r in outcome.refusedRecipients {
                logger.notice("milter refused a recipient", metadata: ["rcpt": "\(r.address)", "reply": "\(r.reply.text)"])
                t.recipients.removeAll { Self.same($0, r.address) }
                verdict.refusedRecipients.append(r)
            }
            switch outcome.decision {
            case .refuse(let reply):
                Self.count(reply.code >= 500 ? "reject" : "tempfail")
                logger.notice("refused by milter", metadata: ["reply": "\(reply.text)"])
                verdict.decision = .refuse(reply)
                return verdict
            case .discard:
                Self.count("discard")
                logger.notice("discarded by milter: accepted and not delivered")
                verdict.decision = .discard
                return verdict
            case .accept:
                var body: [[UInt8]] = []
                var quarantined = false
                for m in outcome.modifications {
                    switch m {
                    case .addHeader(let name, _), .changeHeader(_, let name, _), .insertHeader(_, let name, _):
                        t.message.apply(m, leadingSpace: outcome.headerLeadingSpace)
                        edited = true
                        logger.debug("milter edited a header field", metadata: ["field": "\(name)", "edit": "\(MilterCodec.printable(m.code))"])
                    case .replaceBody(let chunk):
                        body.append(chunk)
                    case .quarantine(let reason):
                        quarantined = true
                        verdict.quarantine.append(reason)
                        logger.notice("quarantined by milter: delivered to Junk", metadata: ["reason": "\(reason)"])
                    case .changeSender(let sender, let parameters):
                        let new = Self.bare(sender)
                        logger.info("milter changed the sender", metadata: ["from": "<\(t.sender)>", "to": "<\(new)>",
                                                                            "ignored_parameters": "\(parameters ?? "")"])
                        t.sender = new
                    case .addRecipient(let address), .addRecipientWithParameters(let address, _):
                        let new = Self.bare(address)
                        guard !new.isEmpty, !t.recipients.contains(where: { Self.same($0, new) }) else { continue }
                        logger.info("milter added a recipient", metadata: ["rcpt": "\(new)"])
                        t.recipients.append(new)
                    case .deleteRecipient(let address):
                        let gone = Self.bare(address)
                        logger.info("milter removed a recipient", metadata: ["rcpt": "\(gone)"])
                        t.recipients.removeAll { Self.same($0, gone) }
                    default:
                        break
                    }
                }
                if !body.isEmpty {
                    t.message.replaceBody(body)
                    edited = true
                    logger.info("milter replaced the body")
                }
                Self.count(quarantined ? "quarantine" : "accept")
                logger.info("milter accepted", metadata: ["edits": "\(outcome.modifications.count)"])
            }
        }
        verdict.sender = t.sender
        verdict.recipients = t.recipients
        if edited { verdict.message = t.message.bytes }
        return verdict
    }

    static func count(_ verdict: String) {
        Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", "milter"), ("verdict", verdict)]).increment()
    }

    /// An address without its angle brackets (`<>` is the null sender).
    static func bare(_ address: String) -> String {
        var a = Substring(address.trimmingCharacters(in: .whitespaces))
        if a.hasPrefix("<"), a.hasSuffix(">"), a.count >= 2 { a = a.dropFirst().dropLast() }
        return String(a)
    }

    static func same(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }
}
