import IMAPProtocol
import MailCore
import MailStore

/// The data items of `* n FETCH (...)` (RFC 9051 §7.5.2, RFC 3516 §4.2 BINARY, RFC 7162 §3.1.4
/// MODSEQ) for one message.
enum FetchResponse {
    struct Options: Sendable {
        /// IMAP4rev1 clients are shown \Recent; IMAP4rev2 ones are not (RFC 9051 Appendix E).
        var showRecent: Bool
        /// IMAP4rev2 grammar: message/global is a body-type-msg.
        var rev2: Bool
        /// CONDSTORE is on: unsolicited FLAGS carry MODSEQ too (RFC 7162 §3.1.4).
        var condStore: Bool
    }

    /// Whether an item needs the message's bytes.
    static func needsContent(_ a: FetchAttribute) -> Bool {
        switch a {
        case .flags, .internalDate, .rfc822Size, .uid, .modSeq: false
        default: true
        }
    }

    /// Whether the item reads nothing past the top-level header (ENVELOPE, RFC822.HEADER,
    /// BODY[HEADER], BODY[HEADER.FIELDS ...]): a FETCH of only such items loads headers alone.
    static func needsOnlyHeader(_ a: FetchAttribute) -> Bool {
        switch a {
        case .envelope, .rfc822Header: true
        case .bodySection(let spec, _, _):
            switch spec.text {
            case .header, .headerFields, .headerFieldsNot: spec.part.isEmpty
            default: false
            }
        default: !needsContent(a)
        }
    }

    /// Whether fetching the item sets \Seen (RFC 9051 §6.4.5: BODY[...] and BINARY[...] without
    /// .PEEK; RFC 3501 §6.4.5: RFC822 and RFC822.TEXT).
    static func setsSeen(_ a: FetchAttribute) -> Bool {
        switch a {
        case .rfc822, .rfc822Text: true
        case .bodySection(_, _, let peek), .binary(_, _, let peek): !peek
        default: false
        }
    }

    /// BINARY of a part in an encoding we cannot decode (RFC 3516 §4.3 `[UNKNOWN-CTE]`).
    struct UnknownEncoding: Error {}

    /// The response items, in the order requested.
    static func items(message m: SelectedMailbox.Message, content: LoadedMessage?, attributes: [FetchAttribute],
                      options: Options) throws(UnknownEncoding) -> [FetchResponseItem] {
        var items: [FetchResponseItem] = []
        items.reserveCapacity(attributes.count)
        for attribute in attributes {
            switch attribute {
            case .uid:
                items.append(.uid(m.uid))
            case .flags:
                items.append(.flags(flags(m, showRecent: options.showRecent)))
            case .modSeq:
                items.append(.modSeq(m.modSeq))
            case .internalDate:
                items.append(.internalDate(IMAPDateTime(secondsSince1970: m.internalDate.seconds,
                                                        zoneMinutes: m.internalDate.zoneMinutes)))
            case .rfc822Size:
                items.append(.rfc822Size(UInt64(m.size)))
            case .preview:
                // LAZY lets a server answer NIL until it has one; computing it costs no more
                // than the message load the item already needs.
                items.append(.preview(content.map { MessagePreview.text(of: $0) }))
            case .envelope:
                items.append(.envelope(EnvelopeBuilder.envelope(content?.header ?? MessageHeader())))
            case .bodyStructure:
                items.append(.bodyStructure(structure(content, options)))
            case .bodyStructureNonExtensible:
                items.append(.body(structure(content, options)))
            case .rfc822:
                items.append(.rfc822(content?.bytes))
            case .rfc822Header:
                items.append(.rfc822Header(content.flatMap { MessageSections.bytes(.header, in: $0) }))
            case .rfc822Text:
                items.append(.rfc822Text(content.flatMap { MessageSections.bytes(.text, in: $0) }))
            case .bodySection(let spec, let partial, _):
                let data = content.flatMap { MessageSections.bytes(spec, in: $0) }
                items.append(.bodySection(spec, origin: partial?.offset, data: data.map { Array(MessageSections.partial($0, partial)) }))
            case .binary(let part, let partial, _):
                guard let content else { items.append(.binary(part: part, origin: partial?.offset, data: nil)); continue }
                switch MessageSections.binary(part, in: content) {
                case .failure: throw UnknownEncoding()
                case .success(let bytes):
                    items.append(.binary(part: part, origin: partial?.offset,
                                         data: bytes.map { Array(MessageSections.partial($0, partial)) }))
                }
            case .binarySize(let part):
                guard let content else { items.append(.binarySize(part: part, size: 0)); continue }
                switch MessageSections.binary(part, in: content) {
                case .failure: throw UnknownEncoding()
                case .success(let bytes): items.append(.binarySize(part: part, size: UInt64(bytes?.count ?? 0)))
                }
            }
        }
        return items
    }

    private static func structure(_ content: LoadedMessage?, _ options: Options) -> BodyStructure {
        guard let content else { return BodyStructureBuilder.emptyText }
        return BodyStructureBuilder.structure(content.root, rev2: options.rev2)
    }

    /// An unsolicited flag update (RFC 9051 §7.5.2), with UID so that QRESYNC and IMAP4rev2
    /// clients can use it without a sequence-number map (RFC 7162 §3.2.4).
    static func flagUpdate(_ m: SelectedMailbox.Message, options: Options) -> [FetchResponseItem] {
        var items: [FetchResponseItem] = [.uid(m.uid), .flags(flags(m, showRecent: options.showRecent))]
        if options.condStore { items.append(.modSeq(m.modSeq)) }
        return items
    }

    static func flags(_ m: SelectedMailbox.Message, showRecent: Bool) -> [MessageFlag] {
        flagList(m.flags, recent: showRecent && m.recent)
    }

    static func flagList(_ flags: MessageFlags, recent: Bool = false) -> [MessageFlag] {
        var list: [MessageFlag] = []
        let s = flags.system
        if s.contains(.seen) { list.append(.seen) }
        if s.contains(.answered) { list.append(.answered) }
        if s.contains(.flagged) { list.append(.flagged) }
        if s.contains(.deleted) { list.append(.deleted) }
        if s.contains(.draft) { list.append(.draft) }
        if recent { list.append(.recent) }
        list += flags.keywords.map { MessageFlag.keyword($0) }
        return list
    }
}
