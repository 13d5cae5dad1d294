import Filters
import Logging
import MailAuthentication
import Metrics
import SMTPProtocol

/// The checks a message passes before it is acknowledged: sender authentication for mail from
/// elsewhere (SPF, DKIM, DMARC) and the content scanners.
extension MessageAcceptance {
    enum Authenticated {
        /// The Authentication-Results field to add (RFC 8601); `quarantine`: DMARC asks for it
        /// (RFC 7489 §6.3 p=quarantine), so the message goes to the recipients' Junk.
        case checked(header: [UInt8], quarantine: Bool)
        case refused(SMTPReply)
    }

    /// SPF, DKIM and DMARC for mail from a client that is neither authenticated nor trusted;
    /// records the summary in `origin` for the trace. Not used for LMTP (a final hop, whose
    /// MTA has checked).
    static func authenticate(_ message: [UInt8], inbound: InboundAuthentication, transaction: SMTPSession.Transaction,
                             services: SMTPServices, origin: inout [String: String], logger: Logger) async -> Authenticated {
        let verdict = await inbound.check(message, clientIP: origin["client"] ?? "", helo: origin["helo"] ?? "",
                                          mailFrom: transaction.sender)
        let dkim = verdict.dkim.map(\.result.rawValue).joined(separator: ",").ifEmpty("none")
        let summary = "spf=\(verdict.spf.result.rawValue) dkim=\(dkim) dmarc=\(verdict.dmarc.result.rawValue)"
        origin["authentication"] = summary
        Counter(label: "swallow_dmarc_results_total", dimensions: [("result", verdict.dmarc.result.rawValue)]).increment()
        if verdict.applied == .reject {
            logger.notice("refused: DMARC", metadata: ["from_domain": "\(verdict.dmarc.fromDomain)", "results": "\(summary)"])
            Counter(label: "swallow_messages_refused_total", dimensions: [("reason", "dmarc")]).increment()
            return .refused(.dmarcRejected(verdict.dmarc.fromDomain))
        }
        // p=quarantine, or p=reject where refusing is turned off: delivered, into Junk.
        let quarantine = verdict.applied == .quarantine
        logger.info("authentication", metadata: ["results": "\(summary)", "dmarc_quarantine": "\(quarantine)"])
        return .checked(header: verdict.header, quarantine: quarantine)
    }

    enum Scanned {
        case accepted(headers: [UInt8], junk: Bool, subject: String?)
        case refused(SMTPReply)
    }

    /// What the scanners and milters are told of the transaction.
    static func scanEnvelope(_ transaction: SMTPSession.Transaction, services: SMTPServices, origin: [String: String]) -> ScanEnvelope {
        var envelope = ScanEnvelope()
        envelope.clientIP = origin["client"] ?? ""
        envelope.helo = origin["helo"] ?? ""
        envelope.sender = transaction.sender
        envelope.recipients = transaction.recipients.map(\.address)
        envelope.queueID = transaction.queueID.rawValue
        envelope.authenticatedUser = origin["auth"]
        envelope.authenticationMechanism = transaction.authMechanism
        envelope.hostname = services.hostname
        envelope.daemonName = origin["listener"] ?? "smtp"
        return envelope
    }

    /// The virus and spam scanners, once for all recipients, on the message as it will be
    /// stored. `trusted`: an authenticated client or a trusted network.
    static func scan(_ message: [UInt8], filters: ContentFilters, transaction: SMTPSession.Transaction, services: SMTPServices,
                     origin: [String: String], trusted: Bool, logger: Logger) async -> Scanned {
        let envelope = scanEnvelope(transaction, services: services, origin: origin)
        switch await filters.scan(message, envelope: envelope, trusted: trusted, logger: logger) {
        case .accept(let headers, let junk, let subject):
            return .accepted(headers: headers, junk: junk, subject: subject)
        case .refuse(let code, let e, let text):
            let reason = code == 451 ? "scanner_tempfail" : text.contains("virus") ? "virus" : "spam"
            Counter(label: "swallow_messages_refused_total", dimensions: [("reason", reason)]).increment()
            return .refused(SMTPReply(code: code, enhanced: EnhancedStatus(e.0, e.1, e.2), text))
        }
    }
}
