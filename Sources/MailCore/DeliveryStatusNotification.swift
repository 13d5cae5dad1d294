import Foundation

/// RFC 3464 delivery status notifications ("bounces"): a multipart/report (RFC 6522) with a
/// human-readable part, a message/delivery-status part and the original message or its headers.
public struct DeliveryStatusNotification: Sendable {
    public enum Action: String, Sendable {
        case failed, delayed, delivered, relayed, expanded
    }

    public struct Recipient: Sendable {
        public var address: String
        /// RFC 3461 ORCPT as given (`rfc822;user@example`).
        public var originalRecipient: String?
        public var action: Action
        /// RFC 3463 status, e.g. "5.1.1".
        public var status: String
        /// The remote host's reply, for Diagnostic-Code: smtp; ...
        public var diagnostic: String?
        public var remoteMTA: String?

        public init(address: String, originalRecipient: String? = nil, action: Action, status: String,
                    diagnostic: String? = nil, remoteMTA: String? = nil) {
            self.address = address; self.originalRecipient = originalRecipient; self.action = action
            self.status = status; self.diagnostic = diagnostic; self.remoteMTA = remoteMTA
        }
    }

    /// Our host name (Reporting-MTA, From: MAILER-DAEMON@...).
    public var reportingMTA: String
    /// Who gets the report: the original envelope sender.
    public var to: String
    /// RFC 3461 ENVID as the submitter meant it (xtext already decoded); written back as xtext.
    public var envelopeID: String?
    public var arrival: Date
    public var recipients: [Recipient]
    /// The original message (CRLF).
    public var original: [UInt8]
    /// RET=FULL: return the whole message; otherwise only its header (RFC 3461 §4.3).
    public var returnFull: Bool

    public init(reportingMTA: String, to: String, envelopeID: String?, arrival: Date, recipients: [Recipient],
                original: [UInt8], returnFull: Bool) {
        self.reportingMTA = reportingMTA; self.to = to; self.envelopeID = envelopeID; self.arrival = arrival
        self.recipients = recipients; self.original = original; self.returnFull = returnFull
    }

    /// The report as a message (CRLF line endings), ready to deliver with the null sender.
    public func message(now: Date = Date(), boundary: String = "=_swallow_\(UInt64.random(in: 0...UInt64.max))") -> [UInt8] {
        let delayed = recipients.allSatisfy { $0.action == .delayed }
        let subject = delayed ? "Delivery delayed: message not yet delivered" : "Undelivered Mail Returned to Sender"
        var text = ""
        text += "From: Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>\r\n"
        text += "To: <\(to)>\r\n"
        text += "Subject: \(subject)\r\n"
        text += "Date: \(RFC5322Date.format(now, offsetSeconds: 0))\r\n"
        text += "Message-ID: <\(UInt64.random(in: 0...UInt64.max))@\(reportingMTA)>\r\n"
        text += "Auto-Submitted: auto-replied\r\n"  // RFC 3834: never answer this automatically
        text += "MIME-Version: 1.0\r\n"
        text += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"\(boundary)\"\r\n"
        text += "\r\n"
        text += "This is a MIME-encapsulated message.\r\n\r\n"
        text += "--\(boundary)\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Description: Notification\r\n\r\n"
        text += "This is the mail system at host \(reportingMTA).\r\n\r\n"
        text += delayed ? "Your message has not been delivered yet; the mail system will keep trying.\r\n\r\n"
            : "Your message could not be delivered to one or more recipients.\r\n\r\n"
        for r in recipients {
            text += "<\(r.address)>: \(Self.oneLine(r.diagnostic ?? r.status))\r\n"
        }
        text += "\r\n--\(boundary)\r\n"
        text += "Content-Type: message/delivery-status\r\n"
        text += "Content-Description: Delivery report\r\n\r\n"
        // RFC 3464 §2.2: per-message fields, then a blank line before each per-recipient group.
        // RFC 3464 §2.2.1: the envelope identifier as it was given, in xtext (RFC 3461 §4).
        // Decoded, it may hold CR LF, which would start a header line of its own.
        if let envelopeID { text += "Original-Envelope-Id: \(XText.encode(envelopeID))\r\n" }
        text += "Reporting-MTA: dns; \(reportingMTA)\r\n"
        text += "Arrival-Date: \(RFC5322Date.format(arrival, offsetSeconds: 0))\r\n"
        for r in recipients {
            text += "\r\n"
            if let o = r.originalRecipient { text += "Original-Recipient: \(o)\r\n" }
            text += "Final-Recipient: rfc822; \(r.address)\r\n"
            text += "Action: \(r.action.rawValue)\r\n"
            text += "Status: \(r.status)\r\n"
            if let mta = r.remoteMTA { text += "Remote-MTA: dns; \(mta)\r\n" }
            if let d = r.diagnostic { text += "Diagnostic-Code: smtp; \(Self.oneLine(d))\r\n" }
        }
        text += "\r\n--\(boundary)\r\n"
        var bytes = Array(text.utf8)
        if returnFull {
            bytes += Array("Content-Type: message/rfc822\r\nContent-Description: Undelivered Message\r\n\r\n".utf8)
            bytes += original
            if original.last != 10 { bytes += [13, 10] }
        } else {
            // RFC 6522 §3 text/rfc822-headers: the original's header only.
            let (_, bodyOffset) = MessageHeader.parse(original)
            bytes += Array("Content-Type: text/rfc822-headers\r\nContent-Description: Undelivered Message Headers\r\n\r\n".utf8)
            bytes += original.prefix(bodyOffset)
            if bytes.last != 10 { bytes += [13, 10] }
        }
        bytes += Array("\r\n--\(boundary)--\r\n".utf8)
        return bytes
    }

    /// Diagnostic text from a server reply on one header line: line breaks of a multi-line
    /// reply become spaces, any other control character a visible escape (`LogSafe`).
    static func oneLine(_ s: String) -> String {
        var joined = String.UnicodeScalarView()
        for scalar in s.unicodeScalars.prefix(900) {
            joined.append(scalar == "\r" || scalar == "\n" ? " " : scalar)
        }
        return LogSafe.escape(String(joined))
    }

    /// The RFC 3463 status in a reply text (e.g. "550 5.1.1 User unknown" -> "5.1.1"), or a
    /// generic one for the reply class. A report of failure (Action: failed) carries the
    /// status of the last attempt, which may be a 4.x.x one (RFC 3464 §2.3.4).
    public static func status(from reply: String, permanent: Bool) -> String {
        for word in reply.split(separator: " ") {
            let parts = word.split(separator: ".")
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }), let first = parts.first,
               first == "2" || first == "4" || first == "5" {
                return String(word)
            }
        }
        return permanent ? "5.0.0" : "4.0.0"
    }
}
