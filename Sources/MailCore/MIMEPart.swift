/// Bounds on MIME parsing (DESIGN.md §4 "Bounded everything").
public enum MIMELimits {
    /// Nesting deeper than this (multiparts and encapsulated messages together) is not parsed:
    /// the part at the limit is an opaque leaf.
    public static let maxDepth = 32
    /// At most this many parts (every multipart, leaf and encapsulated message counts) per
    /// message; once reached, remaining parts are not created and containers stay opaque.
    public static let maxParts = 1000
    /// RFC 2046 §5.1.1 allows 70 characters; longer boundaries (up to this) are tolerated,
    /// beyond it the multipart is treated as opaque.
    public static let maxBoundaryLength = 200
}

/// One node of a message's MIME structure (RFC 2045, RFC 2046): the inputs IMAP needs for
/// BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) and BODY[section] (RFC 3501 §6.4.5).
///
/// All ranges are byte offsets into the message passed to ``parse(_:)``.
public struct MIMEPart: Sendable, Hashable {
    public var header: MessageHeader
    /// Content-Type, or the RFC 2045 §5.2 / RFC 2046 §5.1.5 default.
    public var contentType: ContentType
    /// Content-Transfer-Encoding mechanism, lowercased; "7bit" when absent (RFC 2045 §6.1).
    public var contentTransferEncoding: String
    /// Content-ID (RFC 2045 §7), as written (normally with its angle brackets).
    public var contentID: String?
    /// Content-Description (RFC 2045 §8), unfolded but not RFC 2047 decoded: IMAP sends it raw.
    public var contentDescription: String?
    public var contentDisposition: ContentDisposition?
    /// Content-Language tags (RFC 3282 §2), in order; empty when absent.
    public var contentLanguage: [String]
    /// Content-Location (RFC 2557 §4.2), whitespace left by folding removed.
    public var contentLocation: String?
    /// Content-MD5 (RFC 1864).
    public var contentMD5: String?
    /// The header, including the empty line that ends it. Empty when the part has no header.
    public var headerRange: Range<Int>
    /// The body: for a multipart, everything after the header (preamble and epilogue included).
    public var bodyRange: Range<Int>
    /// Lines in the body: each LF ends one, and a final line without LF counts too
    /// (body-fld-lines for text/* and message/rfc822, RFC 3501 §7.4.2).
    public var bodyLineCount: Int
    /// Sub-parts of a multipart, in order. Empty for a multipart with no boundary parameter,
    /// no delimiter line, or beyond ``MIMELimits``: treat such a part as opaque.
    public var children: [MIMEPart]
    private var encapsulatedStorage: [MIMEPart]

    /// For message/rfc822 (and message/global): the encapsulated message, parsed.
    /// Nil when the body is not 7bit/8bit/binary (it cannot be read as a message without
    /// decoding) or beyond ``MIMELimits``.
    public var encapsulated: MIMEPart? {
        get { encapsulatedStorage.first }
        set { encapsulatedStorage = newValue.map { [$0] } ?? [] }
    }

    public init(
        header: MessageHeader, contentType: ContentType, contentTransferEncoding: String = "7bit",
        contentID: String? = nil, contentDescription: String? = nil, contentDisposition: ContentDisposition? = nil,
        contentLanguage: [String] = [], contentLocation: String? = nil, contentMD5: String? = nil,
        headerRange: Range<Int>, bodyRange: Range<Int>, bodyLineCount: Int,
        children: [MIMEPart] = [], encapsulated: MIMEPart? = nil
    ) {
        self.header = header
        self.contentType = contentType
        self.contentTransferEncoding = contentTransferEncoding
        self.contentID = contentID
        self.contentDescription = contentDescription
        self.contentDisposition = contentDisposition
        self.contentLanguage = contentLanguage
        self.contentLocation = contentLocation
        self.contentMD5 = contentMD5
        self.headerRange = headerRange
        self.bodyRange = bodyRange
        self.bodyLineCount = bodyLineCount
        self.children = children
        self.encapsulatedStorage = encapsulated.map { [$0] } ?? []
    }

    /// Body size in octets (body-fld-octets, RFC 3501 §7.4.2).
    public var bodySize: Int { bodyRange.count }

    /// Parses a whole message (header and body). Accepts CRLF and bare-LF line ends. Never
    /// fails: malformed structure degrades to opaque parts.
    public static func parse(_ message: [UInt8]) -> MIMEPart {
        var budget = MIMELimits.maxParts
        return parsePart(message, 0..<message.count, depth: 0, inDigest: false, isBodyPart: false, budget: &budget)
    }

    /// The part named by an IMAP section number such as `[1, 2]` (RFC 3501 §6.4.5), or nil
    /// when there is no such part. Call on the top-level message.
    ///
    /// A non-multipart message (or encapsulated message) has exactly one part, `1`, which is
    /// the message itself: use its ``bodyRange`` for `BODY[1]`. A message/rfc822 part's
    /// sub-parts are those of the encapsulated message. The empty path returns `self`.
    public func part(at section: [Int]) -> MIMEPart? {
        guard let first = section.first else { return self }
        guard var current = Self.messagePart(self, first) else { return nil }
        for n in section.dropFirst() {
            if current.contentType.isMultipart {
                guard n >= 1, n <= current.children.count else { return nil }
                current = current.children[n - 1]
            } else if let inner = current.encapsulated {
                guard let next = Self.messagePart(inner, n) else { return nil }
                current = next
            } else {
                return nil
            }
        }
        return current
    }

    /// Part `n` of a message: its n-th child when multipart, else itself for n == 1.
    private static func messagePart(_ message: MIMEPart, _ n: Int) -> MIMEPart? {
        if message.contentType.isMultipart {
            guard n >= 1, n <= message.children.count else { return nil }
            return message.children[n - 1]
        }
        return n == 1 ? message : nil
    }

    /// The body with its Content-Transfer-Encoding removed (for IMAP BINARY, RFC 3516 §4.2).
    /// Nil for an encoding we do not know (RFC 3516: the server answers `[UNKNOWN-CTE]`) or a
    /// base64 body too broken to decode.
    public func decodedBody(in message: [UInt8]) -> [UInt8]? {
        let lower = max(0, min(bodyRange.lowerBound, message.count))
        let upper = max(lower, min(bodyRange.upperBound, message.count))
        let body = message[lower..<upper]
        switch contentTransferEncoding {
        case "7bit", "8bit", "binary", "": return Array(body)
        case "base64": return TransferEncoding.decodeBase64(body)
        case "quoted-printable": return TransferEncoding.decodeQuotedPrintable(body)
        default: return nil
        }
    }

    // MARK: - Parsing

    /// Recursion is bounded by `MIMELimits.maxDepth` (small), so the stack cannot overflow.
    private static func parsePart(
        _ m: [UInt8], _ range: Range<Int>, depth: Int, inDigest: Bool, isBodyPart: Bool, budget: inout Int
    ) -> MIMEPart {
        budget -= 1
        let (header, bodyStart) = MessageHeader.parse(m, in: range, requireFieldFirst: isBodyPart)
        let bodyRange = bodyStart..<range.upperBound

        var contentType = inDigest ? ContentType.digestDefault : ContentType.textPlainDefault
        if let field = header.first("Content-Type"), let parsed = ContentType.parse(field.value) {
            contentType = parsed
        }
        var cte = "7bit"
        if let field = header.first("Content-Transfer-Encoding") {
            var lexer = MIMELexer(Array(field.value.utf8))
            lexer.skipCFWS()
            if let token = lexer.token() { cte = MailSyntax.asciiLowercased(token) }
        }

        var part = MIMEPart(
            header: header,
            contentType: contentType,
            contentTransferEncoding: cte,
            contentID: header.first("Content-ID")?.value,
            contentDescription: header.first("Content-Description")?.value,
            contentDisposition: header.first("Content-Disposition").flatMap { ContentDisposition.parse($0.value) },
            contentLanguage: header.first("Content-Language").map { languageTags($0.value) } ?? [],
            contentLocation: header.first("Content-Location").map { $0.value.filter { !$0.isWhitespace } },
            contentMD5: header.first("Content-MD5")?.value,
            headerRange: range.lowerBound..<bodyStart,
            bodyRange: bodyRange,
            bodyLineCount: lineCount(m, bodyRange))

        guard depth < MIMELimits.maxDepth, budget > 0 else { return part }

        if contentType.isMultipart {
            guard let boundary = contentType.boundary, !boundary.isEmpty,
                boundary.utf8.count <= MIMELimits.maxBoundaryLength
            else { return part }
            let isDigest = contentType.subtype == "digest"
            for childRange in splitMultipart(m, bodyRange, boundary: Array(boundary.utf8)) {
                guard budget > 0 else { break }
                part.children.append(
                    parsePart(m, childRange, depth: depth + 1, inDigest: isDigest, isBodyPart: true, budget: &budget))
            }
        } else if contentType.isEncapsulatedMessage, ["7bit", "8bit", "binary"].contains(cte) {
            part.encapsulated = parsePart(
                m, bodyRange, depth: depth + 1, inDigest: false, isBodyPart: false, budget: &budget)
        }
        return part
    }

    /// Splits a multipart body into the ranges of its body parts.
    ///
    /// ```
    /// ; RFC 2046 §5.1.1
    /// multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
    ///                   body-part *encapsulation close-delimiter transport-padding [CRLF epilogue]
    /// dash-boundary := "--" boundary
    /// encapsulation := delimiter transport-padding CRLF body-part
    /// delimiter := CRLF dash-boundary
    /// close-delimiter := delimiter "--"
    /// transport-padding := *LWSP-char
    /// ```
    /// The line break before a delimiter belongs to the delimiter, not to the part. A missing
    /// close-delimiter ends the last part at the end of the body. Nested multiparts need no
    /// special care: the outer body is split first, so an inner part can only ever see its own
    /// range (RFC 2046 requires that an inner boundary never contain the outer one).
    static func splitMultipart(_ m: [UInt8], _ range: Range<Int>, boundary: [UInt8]) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var currentStart: Int? = nil
        var closed = false
        var i = range.lowerBound
        let end = range.upperBound
        let dash = UInt8(ascii: "-")
        while i < end {
            let lineStart = i
            var j = i
            while j < end && m[j] != MailSyntax.lf { j += 1 }
            let lineEnd = j < end ? j + 1 : end
            let contentEnd = (j > lineStart && m[j - 1] == MailSyntax.cr) ? j - 1 : j
            i = lineEnd

            let after = lineStart + 2 + boundary.count
            guard after <= contentEnd, m[lineStart] == dash, m[lineStart + 1] == dash,
                m[(lineStart + 2)..<after].elementsEqual(boundary)
            else { continue }
            var rest = after
            let isClose = rest + 2 <= contentEnd && m[rest] == dash && m[rest + 1] == dash
            if isClose { rest += 2 }
            guard m[rest..<contentEnd].allSatisfy(MailSyntax.isWSP) else { continue }

            if let start = currentStart {
                var stop = lineStart
                if stop > start && m[stop - 1] == MailSyntax.lf {
                    stop -= 1
                    if stop > start && m[stop - 1] == MailSyntax.cr { stop -= 1 }
                }
                parts.append(start..<stop)
            }
            if isClose {
                closed = true
                break
            }
            currentStart = lineEnd
        }
        if !closed, let start = currentStart, start < end {
            parts.append(start..<end)
        }
        return parts
    }

    static func lineCount(_ m: [UInt8], _ range: Range<Int>) -> Int {
        guard !range.isEmpty else { return 0 }
        var n = 0
        for i in range where m[i] == MailSyntax.lf { n += 1 }
        if m[range.upperBound - 1] != MailSyntax.lf { n += 1 }
        return n
    }

    /// Language-List (RFC 3282 §2): comma-separated language tags, comments ignored.
    static func languageTags(_ value: String) -> [String] {
        var lexer = MIMELexer(Array(value.utf8))
        var tags: [String] = []
        while !lexer.atEnd && tags.count < MIMEParameters.maxParameters {
            lexer.skipCFWS()
            if let tag = lexer.token() {
                tags.append(tag)
            } else if !lexer.atEnd {
                lexer.index += 1
            }
        }
        return tags
    }
}
