import IMAPProtocol
import MailCore

/// One message's bytes and MIME tree, parsed at most once per FETCH or SEARCH.
final class LoadedMessage {
    let bytes: [UInt8]
    private var parsed: MIMEPart?

    init(bytes: [UInt8]) { self.bytes = bytes }

    var root: MIMEPart {
        if let parsed { return parsed }
        let p = MIMEPart.parse(bytes)
        parsed = p
        return p
    }

    private var parsedHeader: (header: MessageHeader, bodyOffset: Int)?

    /// The top-level header alone: header searches and HEADER fetches need no MIME tree.
    var header: MessageHeader { topHeader.header }

    var topHeader: (header: MessageHeader, bodyOffset: Int) {
        if let parsedHeader { return parsedHeader }
        let h = MessageHeader.parse(bytes)
        parsedHeader = h
        return h
    }

    /// The top-level fields named `name`: from the parsed header when there is one, otherwise
    /// found without parsing the rest (SEARCH looks at one or two fields of each message).
    func headerFields(_ name: String) -> [HeaderField] {
        if let parsedHeader { return parsedHeader.header.all(name) }
        return MessageHeader.fields(named: name, in: bytes)
    }

    private var searchableBody: String?
    private var searchableHeader: String?

    /// Every text part's content, transfer encoding and charset removed, lowercased: what
    /// SEARCH BODY looks in (RFC 9051 §6.4.4).
    var bodyText: String {
        if let searchableBody { return searchableBody }
        var pieces: [String] = []
        Self.collectText(root, bytes, into: &pieces, budget: 1000)
        let text = pieces.joined(separator: "\n").lowercased()
        searchableBody = text
        return text
    }

    /// The header with encoded words decoded, lowercased (SEARCH TEXT).
    var headerText: String {
        if let searchableHeader { return searchableHeader }
        let text = root.header.fields.map { $0.name + ": " + EncodedWord.decode($0.value) }.joined(separator: "\n").lowercased()
        searchableHeader = text
        return text
    }

    private static func collectText(_ part: MIMEPart, _ bytes: [UInt8], into pieces: inout [String], budget: Int) {
        guard budget > 0 else { return }
        if part.contentType.isMultipart {
            for child in part.children { collectText(child, bytes, into: &pieces, budget: budget - 1) }
            if part.children.isEmpty { pieces.append(String(decoding: MessageSections.slice(bytes, part.bodyRange), as: UTF8.self)) }
        } else if let inner = part.encapsulated {
            pieces.append(inner.header.fields.map { $0.name + ": " + EncodedWord.decode($0.value) }.joined(separator: "\n"))
            collectText(inner, bytes, into: &pieces, budget: budget - 1)
        } else if part.contentType.isText {
            let decoded = part.decodedBody(in: bytes) ?? MessageSections.slice(bytes, part.bodyRange)
            let charset = part.contentType.charset ?? "us-ascii"
            pieces.append(MailCharset.decode(decoded, charset: charset) ?? String(decoding: decoded, as: UTF8.self))
        }
    }
}

/// BODY[section] and BINARY[part] contents (RFC 3501 §6.4.5, RFC 9051 §6.4.5, RFC 3516 §4.2).
enum MessageSections {
    /// The octets `BODY[spec]` names, or nil when the section does not exist (for instance
    /// `1.HEADER` of a part that is not message/rfc822).
    static func bytes(_ spec: SectionSpec, in message: LoadedMessage) -> [UInt8]? {
        let m = message.bytes
        let path = spec.part.map { Int($0) }
        if path.isEmpty {
            // The top-level HEADER variants need only the header, not the MIME tree.
            let (header, bodyOffset) = message.topHeader
            switch spec.text {
            case .header: return Array(m[..<min(bodyOffset, m.count)])
            case .headerFields(let names): return headerFields(header, names: names, not: false)
            case .headerFieldsNot(let names): return headerFields(header, names: names, not: true)
            case .text: return Array(m[min(bodyOffset, m.count)...])
            case nil, .mime: return text(spec.text, of: message.root, in: m)
            }
        }
        guard let part = message.root.part(at: path) else { return nil }
        switch spec.text {
        case nil:
            return slice(m, part.bodyRange)
        case .mime:
            return slice(m, part.headerRange)
        case .header, .headerFields, .headerFieldsNot, .text:
            // RFC 3501 §6.4.5: HEADER / TEXT after a part number apply to an encapsulated message.
            guard part.contentType.isEncapsulatedMessage, let inner = part.encapsulated else { return nil }
            return text(spec.text, of: inner, in: m)
        }
    }

    /// HEADER, HEADER.FIELDS, TEXT or the whole of one (possibly encapsulated) message.
    private static func text(_ text: SectionSpec.Text?, of message: MIMEPart, in m: [UInt8]) -> [UInt8]? {
        switch text {
        case nil:
            return slice(m, message.headerRange.lowerBound..<message.bodyRange.upperBound)
        case .header:
            return slice(m, message.headerRange)
        case .text:
            return slice(m, message.bodyRange)
        case .headerFields(let names):
            return headerFields(message.header, names: names, not: false)
        case .headerFieldsNot(let names):
            return headerFields(message.header, names: names, not: true)
        case .mime:
            return nil
        }
    }

    /// The matching fields as stored, then the empty line (RFC 3501 §6.4.5 "the blank line
    /// between the header and the body is ... included").
    static func headerFields(_ header: MessageHeader, names: [String], not: Bool) -> [UInt8] {
        let wanted = Set(names.map { $0.lowercased() })
        var out: [UInt8] = []
        for field in header.fields where wanted.contains(field.name.lowercased()) != not {
            out += field.raw
            // A last field without line end (message without body) still needs one.
            if out.last != 0x0A { out += [0x0D, 0x0A] }
        }
        out += [0x0D, 0x0A]
        return out
    }

    /// BINARY[part]: the part's body with its Content-Transfer-Encoding removed. `.success(nil)`
    /// when the part does not exist; `.failure` when the encoding is unknown (`[UNKNOWN-CTE]`).
    static func binary(_ part: [UInt32], in message: LoadedMessage) -> Result<[UInt8]?, UnknownEncoding> {
        if part.isEmpty { return .success(message.bytes) }
        guard let p = message.root.part(at: part.map { Int($0) }) else { return .success(nil) }
        if p.contentType.isMultipart || p.contentType.isEncapsulatedMessage {
            return .success(slice(message.bytes, p.bodyRange))
        }
        guard let decoded = p.decodedBody(in: message.bytes) else { return .failure(UnknownEncoding()) }
        return .success(decoded)
    }

    struct UnknownEncoding: Error {}

    /// `<offset.length>` of RFC 9051 §6.4.5: an offset past the end gives the empty string.
    static func partial(_ bytes: [UInt8], _ partial: FetchPartial?) -> ArraySlice<UInt8> {
        guard let partial else { return bytes[...] }
        let start = Int(clamping: min(partial.offset, UInt64(bytes.count)))
        let (sum, overflow) = UInt64(start).addingReportingOverflow(partial.length)
        let end = overflow ? bytes.count : Int(clamping: min(sum, UInt64(bytes.count)))
        return bytes[start..<max(start, end)]
    }

    static func slice(_ m: [UInt8], _ r: Range<Int>) -> [UInt8] {
        let lower = max(0, min(r.lowerBound, m.count))
        let upper = max(lower, min(r.upperBound, m.count))
        return Array(m[lower..<upper])
    }
}
