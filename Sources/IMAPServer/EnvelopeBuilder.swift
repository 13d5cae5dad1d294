import IMAPProtocol
import MailCore

/// ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from a message's parsed header.
///
/// Date, subject, in-reply-to and message-id are sent exactly as written (unfolded), without
/// RFC 2047 decoding, 8-bit octets included; addresses carry the display name as written
/// (encoded words intact, quotes removed), as the RFC asks.
enum EnvelopeBuilder {
    /// Host sent for an address without a domain: NIL would mean "start of a group"
    /// (RFC 3501 §7.4.2), so a placeholder is needed; Dovecot uses the same one.
    static let missingDomain = "MISSING_DOMAIN"

    static func envelope(_ header: MessageHeader) -> Envelope {
        let from = addresses(header, "From")
        let sender = addresses(header, "Sender")
        let replyTo = addresses(header, "Reply-To")
        // RFC 3501 §7.4.2: a missing or empty Sender / Reply-To is the From.
        return Envelope(
            date: rawValue(header, "Date"),
            subject: rawValue(header, "Subject"),
            from: from,
            sender: sender.isEmpty ? from : sender,
            replyTo: replyTo.isEmpty ? from : replyTo,
            to: addresses(header, "To"),
            cc: addresses(header, "Cc"),
            bcc: addresses(header, "Bcc"),
            inReplyTo: rawValue(header, "In-Reply-To"),
            messageID: rawValue(header, "Message-ID"))
    }

    /// The unfolded value of the first `name` field, byte for byte.
    static func rawValue(_ header: MessageHeader, _ name: String) -> [UInt8]? {
        header.first(name).map(rawValue(of:))
    }

    /// RFC 5322 §2.2.3 unfolding of a field's raw bytes; leading and trailing white space removed.
    static func rawValue(of field: HeaderField) -> [UInt8] {
        let raw = field.raw
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count - colon)
        var i = colon + 1
        while i < raw.count {
            let b = raw[i]
            if b == 0x0A || (b == 0x0D && i + 1 < raw.count && raw[i + 1] == 0x0A) {
                i += 1
                continue
            }
            out.append(b)
            i += 1
        }
        var start = 0, end = out.count
        while start < end, out[start] == 0x20 || out[start] == 0x09 || out[start] == 0x0D { start += 1 }
        while end > start, out[end - 1] == 0x20 || out[end - 1] == 0x09 || out[end - 1] == 0x0D { end -= 1 }
        return Array(out[start..<end])
    }

    static func addresses(_ header: MessageHeader, _ name: String) -> [Envelope.Address] {
        // Every field of that name for recipient lists (some generators split long To lists);
        // the first for the originator fields, which RFC 5322 allows once.
        let single = name == "From" || name == "Sender" || name == "Reply-To"
        var entries: [AddressListEntry] = []
        for field in header.all(name) where !field.value.isEmpty {
            entries += AddressListEntry.parseAddressList(field.value, decodeEncodedWords: false)
            if single { break }
        }
        var result: [Envelope.Address] = []
        for entry in entries {
            switch entry {
            case .mailbox(let m):
                result.append(address(m))
            case .group(let name, let members):
                // RFC 3501 §7.4.2: group start (NIL NIL name NIL), members, end (NIL NIL NIL NIL).
                result.append(.groupStart(name))
                result += members.map(address)
                result.append(.groupEnd)
            }
        }
        return result
    }

    static func address(_ m: MailboxAddress) -> Envelope.Address {
        let name = m.rawDisplayName.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let route = m.route.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let host = m.domain.flatMap { $0.isEmpty ? nil : $0 } ?? missingDomain
        return Envelope.Address(name: name, adl: route, mailbox: Array(m.localPart.utf8), host: Array(host.utf8))
    }
}
