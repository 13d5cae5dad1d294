import Crypto
import Foundation
import MailCore

/// Makes `DKIM-Signature:` header fields (RFC 6376 §3.5, §5): relaxed/relaxed, SHA-256, one
/// per key. Pure apart from the key's signing.
public enum DKIMSigner {
    /// Signed when present (RFC 6376 §5.4.1's list, the MIME fields and list headers that change
    /// how a message is shown or answered).
    static let signedFields = [
        "from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to", "references",
        "sender", "mime-version", "content-type", "content-transfer-encoding", "content-disposition", "content-language",
        "list-id", "list-unsubscribe", "list-unsubscribe-post", "list-post", "list-help", "list-owner", "list-archive",
        "resent-date", "resent-from", "resent-to", "resent-cc", "resent-message-id",
    ]
    /// Signed once more than they occur (RFC 6376 §8.15 "oversigning"): a field of these names
    /// added later (a second From:, a Cc: that was absent) breaks the signature.
    static let oversignedFields: Set<String> = ["from", "subject", "date", "to", "cc", "reply-to", "message-id"]

    /// The `h=` list for this header (lowercase names, in signing order).
    static func fieldsToSign(_ header: MessageHeader) -> [String] {
        var names: [String] = []
        for name in signedFields {
            let count = header.fields.filter { $0.hasName(name) }.count
            let times = count + (oversignedFields.contains(name) ? 1 : 0)
            names += Array(repeating: name, count: times)
        }
        return names
    }

    /// The fields `names` select, canonicalized, each with CRLF (RFC 6376 §5.4.2: repeated names
    /// take instances from the bottom up; a name with no instance left contributes nothing).
    static func canonicalFields(_ header: MessageHeader, _ names: [String]) -> [UInt8] {
        var used: [String: Int] = [:]
        var out: [UInt8] = []
        for name in names {
            let instances = header.fields.filter { $0.hasName(name) }
            let n = used[name, default: 0]
            used[name] = n + 1
            guard n < instances.count else { continue }
            out += DKIMCanonicalization.relaxedHeader(instances[instances.count - 1 - n].raw)
        }
        return out
    }

    /// One `DKIM-Signature:` field (with CRLF) per key, for `message` (CRLF text, header and body).
    public static func sign(_ message: [UInt8], keys: [DKIMKey], now: Date = Date()) throws -> [UInt8] {
        guard !keys.isEmpty else { return [] }
        let (header, bodyOffset) = MessageHeader.parse(message)
        let bodyHash = Data(SHA256.hash(data: DKIMCanonicalization.relaxedBody(message[bodyOffset...]))).base64EncodedString()
        let names = fieldsToSign(header)
        let signedFields = canonicalFields(header, names)
        var out: [UInt8] = []
        for key in keys {
            // FWS is allowed between h= names (RFC 6376 §3.5): fold so no line grows past ~78.
            var hLines: [String] = []
            var line = ""
            for name in names {
                if !line.isEmpty, line.count + name.count + 1 > 70 {
                    hLines.append(line + ":")
                    line = ""
                }
                line += line.isEmpty ? name : ":" + name
            }
            hLines.append(line)
            let unsigned = "DKIM-Signature: v=1; a=\(key.algorithm.tag); c=relaxed/relaxed; d=\(key.domain);\r\n"
                + "\ts=\(key.selector); t=\(Int(now.timeIntervalSince1970));\r\n"
                + "\th=\(hLines.joined(separator: "\r\n\t"));\r\n"
                + "\tbh=\(bodyHash);\r\n\tb="
            // RFC 6376 §3.7: the fields, then this field with an empty b= and without its CRLF.
            var data = signedFields
            data += DKIMCanonicalization.relaxedHeader(Array(unsigned.utf8)).dropLast(2)
            let b = Data(try key.sign(data)).base64EncodedString()
            var folded = ""
            var rest = Substring(b)
            while !rest.isEmpty {
                folded += (folded.isEmpty ? "" : "\r\n\t ") + rest.prefix(70)
                rest = rest.dropFirst(70)
            }
            out += Array((unsigned + folded + "\r\n").utf8)
        }
        return out
    }
}
