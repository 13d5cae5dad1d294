import LineFraming
/// Serialises server responses (RFC 9051 §7, §9; RFC 3501 for IMAP4rev1 clients).
///
/// String rules (RFC 9051 §4.3): an atom where the grammar allows one and the value is all
/// ASTRING-CHARs; otherwise a quoted string when the value is short and has no CR, LF or NUL
/// (8-bit octets only as valid UTF-8 and only when ``utf8`` is on); otherwise a literal `{n}`.
/// BINARY data with NUL goes out as literal8 `~{n}` (RFC 3516 §4.3). Free text (`resp-text`) has
/// CR, LF and NUL replaced by spaces so that no text can inject a response line.
public struct IMAPEncoder: Sendable {
    /// Strings longer than this are sent as literals rather than quoted.
    public static let maxQuotedLength = 1024

    /// UTF-8 may appear in quoted strings: IMAP4rev2 (RFC 9051 §9) or after `ENABLE UTF8=ACCEPT`
    /// (RFC 6855 §3). Off for IMAP4rev1, where 8-bit strings become literals.
    public var utf8: Bool

    public init(utf8: Bool = false) {
        self.utf8 = utf8
    }

    /// The response as wire bytes, CRLF included.
    public func encode(_ response: IMAPResponse) -> [UInt8] {
        var out: [UInt8] = []
        encode(response, into: &out)
        return out
    }

    /// Appends the response, CRLF included, to `out`.
    public func encode(_ response: IMAPResponse, into out: inout [UInt8]) {
        switch response {
        case .tagged(let tag, let status, let code, let text):
            out.append(contentsOf: tag.utf8)
            out.append(ASCII.space)
            out.append(contentsOf: status.rawValue.utf8)
            appendResponseText(code: code, text: text, placeholder: Self.placeholder(status.rawValue), to: &out)
        case .untagged(let data):
            out.append(contentsOf: "* ".utf8)
            appendUntagged(data, to: &out)
        case .continuation(let text):
            out.append(contentsOf: "+ ".utf8)
            Self.appendText(text, to: &out)
        case .continuationData(let data):
            out.append(contentsOf: "+ ".utf8)
            out.append(contentsOf: Base64.encode(data))
        }
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    private static func placeholder(_ status: String) -> String {
        switch status {
        case "OK": "Completed"
        case "NO": "Failed"
        case "BAD": "Error"
        case "BYE": "Logging out"
        default: "Logged in"
        }
    }

    // MARK: - Untagged

    private func appendUntagged(_ data: UntaggedResponse, to out: inout [UInt8]) {
        switch data {
        case .condition(let status, let code, let text):
            out.append(contentsOf: status.rawValue.utf8)
            appendResponseText(code: code, text: text, placeholder: Self.placeholder(status.rawValue), to: &out)
        case .capability(let caps):
            // capability-data = "CAPABILITY" *(SP capability)
            out.append(contentsOf: "CAPABILITY".utf8)
            for c in caps { out.append(ASCII.space); out.append(contentsOf: c.utf8) }
        case .enabled(let caps):
            // enable-data = "ENABLED" *(SP capability)
            out.append(contentsOf: "ENABLED".utf8)
            for c in caps { out.append(ASCII.space); out.append(contentsOf: c.utf8) }
        case .id(let params):
            // id-response = "ID" SP id-params-list
            out.append(contentsOf: "ID ".utf8)
            guard let params, !params.isEmpty else { out.append(contentsOf: "NIL".utf8); return }
            out.append(ASCII.leftParen)
            for (k, p) in params.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                appendString(Array(p.key.utf8), to: &out)
                out.append(ASCII.space)
                appendNString(p.value.map { Array($0.utf8) }, to: &out)
            }
            out.append(ASCII.rightParen)
        case .exists(let n):
            Self.appendNumber(n, to: &out)
            out.append(contentsOf: " EXISTS".utf8)
        case .recent(let n):
            Self.appendNumber(n, to: &out)
            out.append(contentsOf: " RECENT".utf8)
        case .expunge(let n):
            Self.appendNumber(n, to: &out)
            out.append(contentsOf: " EXPUNGE".utf8)
        case .vanished(let earlier, let set):
            // expunged-resp = "VANISHED" [SP "(EARLIER)"] SP known-uids
            out.append(contentsOf: (earlier ? "VANISHED (EARLIER) " : "VANISHED ").utf8)
            Self.appendSequenceSet(set, to: &out)
        case .flags(let flags):
            // "FLAGS" SP flag-list
            out.append(contentsOf: "FLAGS ".utf8)
            Self.appendFlagList(flags, to: &out)
        case .list(let list):
            out.append(contentsOf: "LIST ".utf8)
            appendList(list, to: &out)
        case .lsub(let list):
            out.append(contentsOf: "LSUB ".utf8)
            appendList(list, to: &out)
        case .status(let mailbox, let items):
            // "STATUS" SP mailbox SP "(" [status-att-list] ")"
            out.append(contentsOf: "STATUS ".utf8)
            appendAString(mailbox.bytes, to: &out)
            out.append(contentsOf: " (".utf8)
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                out.append(contentsOf: item.attribute.rawValue.utf8)
                out.append(ASCII.space)
                Self.appendNumber(item.value, to: &out)
            }
            out.append(ASCII.rightParen)
        case .sort(let numbers):
            // "SORT" *(SP nz-number)
            out.append(contentsOf: "SORT".utf8)
            for n in numbers { out.append(ASCII.space); Self.appendNumber(n, to: &out) }
        case .search(let numbers, let modSeq):
            // "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]
            out.append(contentsOf: "SEARCH".utf8)
            for n in numbers { out.append(ASCII.space); Self.appendNumber(n, to: &out) }
            if let modSeq {
                out.append(contentsOf: " (MODSEQ ".utf8)
                Self.appendNumber(modSeq, to: &out)
                out.append(ASCII.rightParen)
            }
        case .esearch(let e):
            out.append(contentsOf: "ESEARCH".utf8)
            if let tag = e.tag {
                out.append(contentsOf: " (TAG ".utf8)
                appendString(Array(tag.utf8), to: &out)
                out.append(ASCII.rightParen)
            }
            if e.uid { out.append(contentsOf: " UID".utf8) }
            if let v = e.min { out.append(contentsOf: " MIN ".utf8); Self.appendNumber(v, to: &out) }
            if let v = e.max { out.append(contentsOf: " MAX ".utf8); Self.appendNumber(v, to: &out) }
            if let v = e.count { out.append(contentsOf: " COUNT ".utf8); Self.appendNumber(v, to: &out) }
            if let v = e.all, !v.elements.isEmpty { out.append(contentsOf: " ALL ".utf8); Self.appendSequenceSet(v, to: &out) }
            if let v = e.modSeq { out.append(contentsOf: " MODSEQ ".utf8); Self.appendNumber(v, to: &out) }
        case .fetch(let n, let items):
            // message-data = nz-number SP "FETCH" SP msg-att ; msg-att = "(" ... ")"
            Self.appendNumber(n, to: &out)
            out.append(contentsOf: " FETCH (".utf8)
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                appendFetchItem(item, to: &out)
            }
            out.append(ASCII.rightParen)
        case .namespace(let personal, let other, let shared):
            // namespace-response = "NAMESPACE" SP namespace SP namespace SP namespace
            out.append(contentsOf: "NAMESPACE".utf8)
            for ns in [personal, other, shared] {
                out.append(ASCII.space)
                guard let ns, !ns.isEmpty else { out.append(contentsOf: "NIL".utf8); continue }
                out.append(ASCII.leftParen)
                for d in ns {
                    out.append(ASCII.leftParen)
                    appendString(d.prefix.bytes, to: &out)
                    out.append(ASCII.space)
                    Self.appendDelimiter(d.delimiter, to: &out)
                    out.append(ASCII.rightParen)
                }
                out.append(ASCII.rightParen)
            }
        case .quota(let root, let resources):
            // quota-response = "QUOTA" SP quota-root-name SP quota-list
            out.append(contentsOf: "QUOTA ".utf8)
            appendAString(Array(root.utf8), to: &out)
            out.append(contentsOf: " (".utf8)
            for (k, r) in resources.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                out.append(contentsOf: r.name.utf8)
                out.append(ASCII.space)
                Self.appendNumber(r.usage, to: &out)
                out.append(ASCII.space)
                Self.appendNumber(r.limit, to: &out)
            }
            out.append(ASCII.rightParen)
        case .quotaRoot(let mailbox, let roots):
            // quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)
            out.append(contentsOf: "QUOTAROOT ".utf8)
            appendAString(mailbox.bytes, to: &out)
            for r in roots {
                out.append(ASCII.space)
                appendAString(Array(r.utf8), to: &out)
            }
        }
    }

    private func appendList(_ list: ListResponse, to out: inout [UInt8]) {
        out.append(ASCII.leftParen)
        for (k, a) in list.attributes.enumerated() {
            if k > 0 { out.append(ASCII.space) }
            out.append(contentsOf: a.description.utf8)
        }
        out.append(contentsOf: ") ".utf8)
        Self.appendDelimiter(list.delimiter, to: &out)
        out.append(ASCII.space)
        appendAString(list.mailbox.bytes, to: &out)
        guard !list.extended.isEmpty else { return }
        out.append(contentsOf: " (".utf8)
        for (k, item) in list.extended.enumerated() {
            if k > 0 { out.append(ASCII.space) }
            switch item {
            case .childInfo(let options):
                out.append(contentsOf: "\"CHILDINFO\" (".utf8)
                for (m, o) in options.enumerated() {
                    if m > 0 { out.append(ASCII.space) }
                    appendString(Array(o.utf8), to: &out)
                }
                out.append(ASCII.rightParen)
            case .oldName(let name):
                out.append(contentsOf: "\"OLDNAME\" (".utf8)
                appendAString(name.bytes, to: &out)
                out.append(ASCII.rightParen)
            }
        }
        out.append(ASCII.rightParen)
    }

    /// `DQUOTE QUOTED-CHAR DQUOTE / nil`
    static func appendDelimiter(_ d: UInt8?, to out: inout [UInt8]) {
        guard let d else { out.append(contentsOf: "NIL".utf8); return }
        out.append(ASCII.dquote)
        if d == ASCII.dquote || d == ASCII.backslash { out.append(ASCII.backslash) }
        out.append(d)
        out.append(ASCII.dquote)
    }

    // MARK: - FETCH items

    private func appendFetchItem(_ item: FetchResponseItem, to out: inout [UInt8]) {
        switch item {
        case .uid(let n):
            out.append(contentsOf: "UID ".utf8)
            Self.appendNumber(n, to: &out)
        case .flags(let flags):
            out.append(contentsOf: "FLAGS ".utf8)
            Self.appendFlagList(flags, to: &out)
        case .internalDate(let date):
            out.append(contentsOf: "INTERNALDATE \"".utf8)
            out.append(contentsOf: date.description.utf8)
            out.append(ASCII.dquote)
        case .rfc822Size(let n):
            out.append(contentsOf: "RFC822.SIZE ".utf8)
            Self.appendNumber(n, to: &out)
        case .preview(let text):
            out.append(contentsOf: "PREVIEW ".utf8)
            appendNString(text.map { Array($0.utf8) }, to: &out)
        case .modSeq(let n):
            out.append(contentsOf: "MODSEQ (".utf8)
            Self.appendNumber(n, to: &out)
            out.append(ASCII.rightParen)
        case .envelope(let envelope):
            out.append(contentsOf: "ENVELOPE ".utf8)
            appendEnvelope(envelope, to: &out)
        case .body(let body):
            out.append(contentsOf: "BODY ".utf8)
            appendBody(body, extended: false, to: &out)
        case .bodyStructure(let body):
            out.append(contentsOf: "BODYSTRUCTURE ".utf8)
            appendBody(body, extended: true, to: &out)
        case .bodySection(let section, let origin, let data):
            out.append(contentsOf: "BODY[".utf8)
            Self.appendSection(section, to: &out, utf8: utf8)
            out.append(ASCII.rightBracket)
            Self.appendOrigin(origin, to: &out)
            out.append(ASCII.space)
            Self.appendMessageData(data, to: &out)
        case .binary(let part, let origin, let data):
            out.append(contentsOf: "BINARY[".utf8)
            Self.appendPart(part, to: &out)
            out.append(ASCII.rightBracket)
            Self.appendOrigin(origin, to: &out)
            out.append(ASCII.space)
            // RFC 3516 §4.3: literal8 for content with NUL; an empty part too, which an
            // independent compliance suite (and Dovecot) expect as `~{0}`.
            if let data, data.isEmpty || data.contains(ASCII.nul) {
                out.append(ASCII.tilde)
                Self.appendLiteral(data, to: &out)
            } else {
                Self.appendMessageData(data, to: &out)
            }
        case .binarySize(let part, let size):
            out.append(contentsOf: "BINARY.SIZE[".utf8)
            Self.appendPart(part, to: &out)
            out.append(contentsOf: "] ".utf8)
            Self.appendNumber(size, to: &out)
        case .rfc822(let data):
            out.append(contentsOf: "RFC822 ".utf8)
            Self.appendMessageData(data, to: &out)
        case .rfc822Header(let data):
            out.append(contentsOf: "RFC822.HEADER ".utf8)
            Self.appendMessageData(data, to: &out)
        case .rfc822Text(let data):
            out.append(contentsOf: "RFC822.TEXT ".utf8)
            Self.appendMessageData(data, to: &out)
        }
    }

    /// Message content is always a literal (or NIL): it is long and contains CRLF.
    static func appendMessageData(_ data: [UInt8]?, to out: inout [UInt8]) {
        guard let data else { out.append(contentsOf: "NIL".utf8); return }
        appendLiteral(data, to: &out)
    }

    static func appendOrigin(_ origin: UInt64?, to out: inout [UInt8]) {
        guard let origin else { return }
        out.append(ASCII.lessThan)
        appendNumber(origin, to: &out)
        out.append(ASCII.greaterThan)
    }

    static func appendPart(_ part: [UInt32], to out: inout [UInt8]) {
        for (k, p) in part.enumerated() {
            if k > 0 { out.append(ASCII.dot) }
            appendNumber(p, to: &out)
        }
    }

    /// The section-spec between the brackets (RFC 9051 §9 `section-spec`).
    static func appendSection(_ section: SectionSpec, to out: inout [UInt8], utf8: Bool) {
        appendPart(section.part, to: &out)
        guard let text = section.text else { return }
        if !section.part.isEmpty { out.append(ASCII.dot) }
        func names(_ list: [String], _ keyword: String) {
            out.append(contentsOf: keyword.utf8)
            out.append(contentsOf: " (".utf8)
            for (k, n) in list.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                appendAString(Array(n.utf8), to: &out, utf8: utf8)
            }
            out.append(ASCII.rightParen)
        }
        switch text {
        case .header: out.append(contentsOf: "HEADER".utf8)
        case .text: out.append(contentsOf: "TEXT".utf8)
        case .mime: out.append(contentsOf: "MIME".utf8)
        case .headerFields(let list): names(list, "HEADER.FIELDS")
        case .headerFieldsNot(let list): names(list, "HEADER.FIELDS.NOT")
        }
    }

    /// See ``Envelope`` for the production.
    private func appendEnvelope(_ e: Envelope, to out: inout [UInt8]) {
        out.append(ASCII.leftParen)
        appendNString(e.date, to: &out)
        out.append(ASCII.space)
        appendNString(e.subject, to: &out)
        for list in [e.from, e.sender, e.replyTo, e.to, e.cc, e.bcc] {
            out.append(ASCII.space)
            appendAddresses(list, to: &out)
        }
        out.append(ASCII.space)
        appendNString(e.inReplyTo, to: &out)
        out.append(ASCII.space)
        appendNString(e.messageID, to: &out)
        out.append(ASCII.rightParen)
    }

    private func appendAddresses(_ list: [Envelope.Address], to out: inout [UInt8]) {
        guard !list.isEmpty else { out.append(contentsOf: "NIL".utf8); return }
        out.append(ASCII.leftParen)
        for a in list {
            out.append(ASCII.leftParen)
            appendNString(a.name, to: &out)
            out.append(ASCII.space)
            appendNString(a.adl, to: &out)
            out.append(ASCII.space)
            appendNString(a.mailbox, to: &out)
            out.append(ASCII.space)
            appendNString(a.host, to: &out)
            out.append(ASCII.rightParen)
        }
        out.append(ASCII.rightParen)
    }

    /// See ``BodyStructure`` for the production; `extended` adds the BODYSTRUCTURE extension data.
    private func appendBody(_ body: BodyStructure, extended: Bool, to out: inout [UInt8]) {
        out.append(ASCII.leftParen)
        switch body {
        case .singlePart(let p):
            appendString(Array(p.type.utf8), to: &out)
            out.append(ASCII.space)
            appendString(Array(p.subtype.utf8), to: &out)
            out.append(ASCII.space)
            appendParameters(p.fields.parameters, to: &out)
            out.append(ASCII.space)
            appendNString(p.fields.id.map { Array($0.utf8) }, to: &out)
            out.append(ASCII.space)
            appendNString(p.fields.description.map { Array($0.utf8) }, to: &out)
            out.append(ASCII.space)
            appendString(Array(p.fields.encoding.utf8), to: &out)
            out.append(ASCII.space)
            Self.appendNumber(p.fields.octets, to: &out)
            switch p.kind {
            case .basic:
                break
            case .text(let lines):
                out.append(ASCII.space)
                Self.appendNumber(lines, to: &out)
            case .message(let envelope, let inner, let lines):
                out.append(ASCII.space)
                appendEnvelope(envelope, to: &out)
                out.append(ASCII.space)
                appendBody(inner, extended: extended, to: &out)
                out.append(ASCII.space)
                Self.appendNumber(lines, to: &out)
            }
            if extended {
                out.append(ASCII.space)
                appendNString(p.extension.md5.map { Array($0.utf8) }, to: &out)
                appendExtensionTail(p.extension, to: &out)
            }
        case .multipart(let m):
            for part in m.parts { appendBody(part, extended: extended, to: &out) }
            out.append(ASCII.space)
            appendString(Array(m.subtype.utf8), to: &out)
            if extended {
                out.append(ASCII.space)
                appendParameters(m.parameters, to: &out)
                appendExtensionTail(m.extension, to: &out)
            }
        }
        out.append(ASCII.rightParen)
    }

    /// `SP body-fld-dsp SP body-fld-lang SP body-fld-loc`
    private func appendExtensionTail(_ ext: BodyExtension, to out: inout [UInt8]) {
        out.append(ASCII.space)
        if let d = ext.disposition {
            out.append(ASCII.leftParen)
            appendString(Array(d.type.utf8), to: &out)
            out.append(ASCII.space)
            appendParameters(d.parameters, to: &out)
            out.append(ASCII.rightParen)
        } else {
            out.append(contentsOf: "NIL".utf8)
        }
        out.append(ASCII.space)
        switch ext.language.count {
        case 0: out.append(contentsOf: "NIL".utf8)
        case 1: appendString(Array(ext.language[0].utf8), to: &out)
        default:
            out.append(ASCII.leftParen)
            for (k, l) in ext.language.enumerated() {
                if k > 0 { out.append(ASCII.space) }
                appendString(Array(l.utf8), to: &out)
            }
            out.append(ASCII.rightParen)
        }
        out.append(ASCII.space)
        appendNString(ext.location.map { Array($0.utf8) }, to: &out)
    }

    /// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`
    private func appendParameters(_ params: [BodyParameter], to out: inout [UInt8]) {
        guard !params.isEmpty else { out.append(contentsOf: "NIL".utf8); return }
        out.append(ASCII.leftParen)
        for (k, p) in params.enumerated() {
            if k > 0 { out.append(ASCII.space) }
            appendString(Array(p.name.utf8), to: &out)
            out.append(ASCII.space)
            appendString(Array(p.value.utf8), to: &out)
        }
        out.append(ASCII.rightParen)
    }

    // MARK: - Response text and codes

    /// `resp-text = ["[" resp-text-code "]" SP] [text]`, preceded by SP.
    private func appendResponseText(code: IMAPResponseCode?, text: String, placeholder: String, to out: inout [UInt8]) {
        out.append(ASCII.space)
        if let code {
            out.append(ASCII.leftBracket)
            appendCode(code, to: &out)
            out.append(contentsOf: "] ".utf8)
        }
        // IMAP4rev1 requires text (RFC 3501 §9 resp-text); never send an empty one.
        Self.appendText(text.isEmpty ? placeholder : text, to: &out)
    }

    /// `text = 1*TEXT-CHAR`: CR, LF and NUL cannot appear, so they become spaces.
    static func appendText(_ text: String, to out: inout [UInt8]) {
        for b in text.utf8 {
            out.append(b == ASCII.cr || b == ASCII.lf || b == ASCII.nul ? ASCII.space : b)
        }
    }

    private func appendCode(_ code: IMAPResponseCode, to out: inout [UInt8]) {
        func word(_ s: String) { out.append(contentsOf: s.utf8) }
        switch code {
        case .alert: word("ALERT")
        case .alreadyExists: word("ALREADYEXISTS")
        case .appendUID(let v, let uids):
            word("APPENDUID ")
            Self.appendNumber(v, to: &out)
            out.append(ASCII.space)
            Self.appendSequenceSet(uids, to: &out)
        case .authenticationFailed: word("AUTHENTICATIONFAILED")
        case .authorizationFailed: word("AUTHORIZATIONFAILED")
        case .badCharset(let charsets):
            word("BADCHARSET")
            if !charsets.isEmpty {
                out.append(contentsOf: " (".utf8)
                for (k, c) in charsets.enumerated() {
                    if k > 0 { out.append(ASCII.space) }
                    appendAString(Array(c.utf8), to: &out)
                }
                out.append(ASCII.rightParen)
            }
        case .cannot: word("CANNOT")
        case .compressionActive: word("COMPRESSIONACTIVE")
        case .capability(let caps):
            word("CAPABILITY")
            for c in caps { out.append(ASCII.space); word(c) }
        case .clientBug: word("CLIENTBUG")
        case .closed: word("CLOSED")
        case .contactAdmin: word("CONTACTADMIN")
        case .copyUID(let v, let source, let destination):
            word("COPYUID ")
            Self.appendNumber(v, to: &out)
            out.append(ASCII.space)
            Self.appendSequenceSet(source, to: &out)
            out.append(ASCII.space)
            Self.appendSequenceSet(destination, to: &out)
        case .corruption: word("CORRUPTION")
        case .expired: word("EXPIRED")
        case .expungeIssued: word("EXPUNGEISSUED")
        case .hasChildren: word("HASCHILDREN")
        case .highestModSeq(let n):
            word("HIGHESTMODSEQ ")
            Self.appendNumber(n, to: &out)
        case .inUse: word("INUSE")
        case .limit: word("LIMIT")
        case .modified(let set):
            word("MODIFIED ")
            Self.appendSequenceSet(set, to: &out)
        case .noModSeq: word("NOMODSEQ")
        case .noPerm: word("NOPERM")
        case .nonExistent: word("NONEXISTENT")
        case .notSaved: word("NOTSAVED")
        case .overQuota: word("OVERQUOTA")
        case .parse: word("PARSE")
        case .permanentFlags(let flags):
            word("PERMANENTFLAGS ")
            Self.appendFlagList(flags, to: &out)
        case .privacyRequired: word("PRIVACYREQUIRED")
        case .readOnly: word("READ-ONLY")
        case .readWrite: word("READ-WRITE")
        case .serverBug: word("SERVERBUG")
        case .tooBig: word("TOOBIG")
        case .tryCreate: word("TRYCREATE")
        case .uidNext(let n):
            word("UIDNEXT ")
            Self.appendNumber(n, to: &out)
        case .uidNotSticky: word("UIDNOTSTICKY")
        case .uidValidity(let n):
            word("UIDVALIDITY ")
            Self.appendNumber(n, to: &out)
        case .unavailable: word("UNAVAILABLE")
        case .unknownCTE: word("UNKNOWN-CTE")
        case .unseen(let n):
            word("UNSEEN ")
            Self.appendNumber(n, to: &out)
        case .other(let name, let text):
            for b in name.utf8 where ASCII.isAtomChar(b) { out.append(b) }
            if let text, !text.isEmpty {
                out.append(ASCII.space)
                // 1*<any TEXT-CHAR except "]">
                for b in text.utf8 {
                    out.append(b == ASCII.rightBracket || b == ASCII.cr || b == ASCII.lf || b == ASCII.nul ? ASCII.space : b)
                }
            }
        }
    }

    // MARK: - Strings, numbers, sets, flags

    /// `flag-list = "(" [flag *(SP flag)] ")"`
    static func appendFlagList(_ flags: [MessageFlag], to out: inout [UInt8]) {
        out.append(ASCII.leftParen)
        for (k, f) in flags.enumerated() {
            if k > 0 { out.append(ASCII.space) }
            out.append(contentsOf: f.description.utf8)
        }
        out.append(ASCII.rightParen)
    }

    static func appendSequenceSet(_ set: SequenceSet, to out: inout [UInt8]) {
        out.append(contentsOf: set.description.utf8)
    }

    static func appendNumber<T: BinaryInteger>(_ n: T, to out: inout [UInt8]) {
        var v = UInt64(n)
        if v == 0 { out.append(ASCII.zero); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while v > 0 {
                buf[count] = ASCII.zero + UInt8(v % 10)
                v /= 10
                count += 1
            }
            for k in stride(from: count - 1, through: 0, by: -1) { out.append(buf[k]) }
        }
    }

    /// Whether `bytes` may be sent as a quoted string.
    static func canQuote(_ bytes: [UInt8], utf8: Bool) -> Bool {
        guard bytes.count <= maxQuotedLength else { return false }
        var eightBit = false
        for b in bytes {
            if b == ASCII.cr || b == ASCII.lf || b == ASCII.nul { return false }
            if b >= 0x80 { eightBit = true }
        }
        if eightBit {
            return utf8 && String(validating: bytes, as: UTF8.self) != nil
        }
        return true
    }

    /// `string = quoted / literal`
    func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        Self.appendString(bytes, to: &out, utf8: utf8)
    }

    static func appendString(_ bytes: [UInt8], to out: inout [UInt8], utf8: Bool) {
        if canQuote(bytes, utf8: utf8) {
            out.append(ASCII.dquote)
            for b in bytes {
                if b == ASCII.dquote || b == ASCII.backslash { out.append(ASCII.backslash) }
                out.append(b)
            }
            out.append(ASCII.dquote)
        } else {
            appendLiteral(bytes, to: &out)
        }
    }

    /// `nstring = string / nil`
    func appendNString(_ bytes: [UInt8]?, to out: inout [UInt8]) {
        guard let bytes else { out.append(contentsOf: "NIL".utf8); return }
        appendString(bytes, to: &out)
    }

    /// `astring = 1*ASTRING-CHAR / string`; "NIL" is quoted so no client mistakes it for nil.
    func appendAString(_ bytes: [UInt8], to out: inout [UInt8]) {
        Self.appendAString(bytes, to: &out, utf8: utf8)
    }

    static func appendAString(_ bytes: [UInt8], to out: inout [UInt8], utf8: Bool) {
        if !bytes.isEmpty, bytes.count <= maxQuotedLength, bytes.allSatisfy(ASCII.isAStringChar), !ASCII.equalsKeyword(bytes, "NIL") {
            out.append(contentsOf: bytes)
        } else {
            appendString(bytes, to: &out, utf8: utf8)
        }
    }

    /// `literal = "{" number64 "}" CRLF *CHAR8` (server literals are never `+`).
    static func appendLiteral(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(ASCII.leftBrace)
        appendNumber(bytes.count, to: &out)
        out.append(contentsOf: [ASCII.rightBrace, ASCII.cr, ASCII.lf])
        out.append(contentsOf: bytes)
    }
}
