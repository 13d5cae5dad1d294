import IMAPProtocol
import MailCore

/// BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from a parsed MIME tree; the
/// encoder leaves out the extension data for BODY.
enum BodyStructureBuilder {
    /// What describes a part with no usable structure (a multipart without parts, an encoded
    /// message/rfc822): the grammar needs a body there.
    static let emptyText = BodyStructure.singlePart(.init(
        type: "text", subtype: "plain", fields: BodyFields(parameters: [BodyParameter("charset", "us-ascii")], octets: 0),
        kind: .text(lines: 0)))

    /// - Parameter rev2: message/global is a body-type-msg only in IMAP4rev2 (RFC 9051
    ///   `media-message`); an IMAP4rev1 client's grammar has only message/rfc822 there.
    static func structure(_ part: MIMEPart, rev2: Bool) -> BodyStructure {
        let type = part.contentType
        let ext = BodyExtension(
            md5: part.contentMD5,
            disposition: part.contentDisposition.map {
                BodyDisposition(type: $0.value, parameters: parameters($0.rawParameters))
            },
            language: part.contentLanguage,
            location: part.contentLocation)
        if type.isMultipart {
            // A multipart without parts (no boundary, no delimiter line) still needs one body.
            let children = part.children.isEmpty ? [emptyText] : part.children.map { structure($0, rev2: rev2) }
            return .multipart(.init(parts: children, subtype: type.subtype, parameters: parameters(type.rawParameters),
                                    extension: ext))
        }
        let fields = BodyFields(
            parameters: parameters(type.rawParameters),
            id: part.contentID.map(trimmed),
            description: part.contentDescription,
            encoding: encodingName(part.contentTransferEncoding),
            octets: UInt64(part.bodySize))
        let kind: BodyStructure.SinglePart.Kind
        if type.type == "message" && (type.subtype == "rfc822" || (rev2 && type.subtype == "global")) {
            if let inner = part.encapsulated {
                kind = .message(envelope: EnvelopeBuilder.envelope(inner.header), body: structure(inner, rev2: rev2),
                                lines: UInt64(part.bodyLineCount))
            } else {
                // Base64 or quoted-printable: not readable as a message without decoding.
                kind = .message(envelope: Envelope(), body: emptyText, lines: UInt64(part.bodyLineCount))
            }
        } else if type.isText {
            kind = .text(lines: UInt64(part.bodyLineCount))
        } else {
            kind = .basic
        }
        return .singlePart(.init(type: type.type, subtype: type.subtype, fields: fields, kind: kind, extension: ext))
    }

    /// Standard encodings upper-cased as in RFC 3501's examples; others as written.
    static func encodingName(_ cte: String) -> String {
        switch cte {
        case "7bit", "8bit", "binary", "base64", "quoted-printable": cte.uppercased()
        case "": "7BIT"
        default: cte
        }
    }

    static func trimmed(_ s: String) -> String {
        String(s.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// Parameters as written, except that RFC 2231 continuations (`name*0`, `name*1*`) are
    /// joined into one parameter, as RFC 2231 §3 asks of IMAP servers ("SHOULD decode parameter
    /// value continuations when generating the BODY and BODYSTRUCTURE responses").
    static func parameters(_ raw: [MIMEParameter]) -> [BodyParameter] {
        var result: [BodyParameter] = []
        var sections: [String: [(index: Int, value: String, extended: Bool)]] = [:]
        var slots: [String: Int] = [:]
        for p in raw {
            var name = Substring(p.name)
            var extended = false
            if name.hasSuffix("*") { extended = true; name = name.dropLast() }
            if let star = name.lastIndex(of: "*"), let index = Int(name[name.index(after: star)...]), index >= 0,
               index < MIMEParameters.maxSections {
                let base = String(name[..<star])
                if slots[base] == nil {
                    slots[base] = result.count
                    result.append(BodyParameter(base, ""))
                }
                sections[base, default: []].append((index, p.value, extended))
            } else {
                result.append(BodyParameter(p.name, p.value))
            }
        }
        for (base, slot) in slots {
            let parts = sections[base, default: []].sorted { $0.index < $1.index }
            let extended = parts.first?.extended == true
            result[slot] = BodyParameter(extended ? base + "*" : base, parts.map(\.value).joined())
        }
        return result
    }
}
