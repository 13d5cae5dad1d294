import Foundation
import MailCore

/// The trace header we prepend to every accepted message (RFC 5321 §4.4), naming the queue ID
/// so a message can be followed through the logs (DESIGN.md §4 "Traceable").
enum ReceivedHeader {
    /// RFC 3848 / RFC 6531 §3.7.3 "with" protocol names.
    static func protocolName(lmtp: Bool, esmtp: Bool, tls: Bool, authenticated: Bool, utf8: Bool) -> String {
        var name = lmtp ? "LMTP" : (utf8 ? "UTF8SMTP" : (esmtp ? "ESMTP" : "SMTP"))
        if tls { name += "S" }
        if authenticated { name += "A" }
        return name
    }

    static func make(helo: String, clientIP: String, hostname: String, protocolName: String, queueID: String,
                     recipient: String?, now: Date = Date()) -> [UInt8] {
        // The HELO name is client-supplied: keep only characters that cannot break the header.
        let safeHelo = String(helo.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != "(" && $0 != ")" }
            .prefix(255).map(Character.init))
        var text = "Received: from \(safeHelo.isEmpty ? "unknown" : safeHelo) ([\(clientIP)])\r\n"
        text += "\tby \(hostname) (Swallow) with \(protocolName) id \(queueID)"
        // RFC 5321 §4.4: "for" only with a single recipient, so others' addresses are not disclosed.
        if let recipient { text += "\r\n\tfor <\(recipient)>" }
        text += "; \(RFC5322Date.format(now, offsetSeconds: 0))\r\n"
        return Array(text.utf8)
    }
}
