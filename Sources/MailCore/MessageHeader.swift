/// One header field of an Internet message, RFC 5322 §2.2.
///
/// `raw` keeps the field byte for byte (folding and line terminator included) because IMAP
/// `BODY[HEADER.FIELDS ...]` must return fields exactly as stored (RFC 3501 §6.4.5), and DKIM
/// signs the original bytes.
public struct HeaderField: Sendable, Hashable {
    /// The field name as written (compare case-insensitively, RFC 5322 §1.2.2).
    public let name: String
    /// The whole field: name, colon, folded value and its terminating CRLF or LF.
    public let raw: [UInt8]
    /// The value unfolded (RFC 5322 §2.2.3), leading and trailing whitespace removed; UTF-8 when
    /// valid (RFC 6532), otherwise decoded byte-for-byte as ISO-8859-1. Encoded words are not decoded.
    public let value: String

    public init(name: String, raw: [UInt8], value: String) {
        self.name = name
        self.raw = raw
        self.value = value
    }

    /// A field for a header we generate: `raw` becomes `"name: value\r\n"`.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.raw = Array("\(name): \(value)\r\n".utf8)
    }

    /// Case-insensitive name comparison (RFC 5322 §1.2.2).
    public func hasName(_ other: String) -> Bool {
        MailSyntax.equalsIgnoringASCIICase(name, other)
    }
}

/// The header section of a message or MIME part, RFC 5322 §2.2 and §3.5.
public struct MessageHeader: Sendable, Hashable {
    /// Fields beyond this count are not kept (the end of the header is still found).
    /// Real messages have well under a few hundred; the bound keeps a hostile header from
    /// turning one message into unbounded per-field work in every consumer.
    public static let maxFieldCount = 10_000
    /// A field longer than this many bytes (folding included) is skipped. RFC 5322 §2.1.1 limits
    /// lines to 998 octets, but folded fields such as long To: lists or DKIM-Signature are long.
    public static let maxFieldLength = 256 * 1024

    public var fields: [HeaderField]

    public init(fields: [HeaderField] = []) {
        self.fields = fields
    }

    /// The first field with this name, compared case-insensitively.
    public func first(_ name: String) -> HeaderField? {
        fields.first { $0.hasName(name) }
    }

    /// Every field with this name, in message order.
    public func all(_ name: String) -> [HeaderField] {
        fields.filter { $0.hasName(name) }
    }

    /// The header as stored: every kept field's raw bytes, in order.
    public var rawBytes: [UInt8] {
        fields.reduce(into: []) { $0 += $1.raw }
    }

    /// Parses the header at the start of `bytes`.
    ///
    /// ```
    /// ; RFC 5322 §2.1, §2.2, §3.6.8, §4.5.8
    /// message         = (fields / obs-fields) [CRLF body]
    /// optional-field  = field-name ":" unstructured CRLF
    /// obs-optional    = field-name *WSP ":" unstructured CRLF
    /// field-name      = 1*ftext
    /// ftext           = %d33-57 / %d59-126   ; printable US-ASCII except ":"
    /// ```
    /// The header ends at the first empty line (CRLF CRLF, or LF LF); without one, the whole
    /// input is header and `bodyOffset == bytes.count`. Bare LF is accepted as a line end; a
    /// line starting with WSP continues the previous field (folding, §2.2.3). Lines that are not
    /// fields (no colon, or an invalid name) are skipped together with their continuation lines.
    /// - Returns: the header and the offset of the first body byte (after the empty line).
    public static func parse(_ bytes: some Collection<UInt8>) -> (header: MessageHeader, bodyOffset: Int) {
        let array = Array(bytes)
        let result = parse(array, in: 0..<array.count, requireFieldFirst: false)
        return (result.header, result.bodyStart)
    }

    /// The fields named `name` (case-insensitively) in the header at the start of `bytes`,
    /// without building the others: a header SEARCH over many messages wants one field of each.
    public static func fields(named name: String, in bytes: [UInt8]) -> [HeaderField] {
        parse(bytes, in: 0..<bytes.count, requireFieldFirst: false, only: Array(name.lowercased().utf8)).header.fields
    }

    /// Parses a header inside `bytes[range]`; offsets are absolute in `bytes`.
    ///
    /// With `requireFieldFirst`, a range whose first line is neither empty nor a field line is
    /// taken as having no header at all: a MIME body part may omit its header (RFC 2046 §5.1.1,
    /// "NO header fields"), and some generators omit the blank line too.
    /// `only` (a lowercased name): keep just the fields with that name.
    static func parse(
        _ bytes: [UInt8], in range: Range<Int>, requireFieldFirst: Bool, only: [UInt8]? = nil
    ) -> (header: MessageHeader, bodyStart: Int) {
        var fields: [HeaderField] = []
        var fieldStart: Int? = nil
        var i = range.lowerBound
        let end = range.upperBound

        func flush(_ start: Int, _ stop: Int) {
            if let only, !hasName(bytes, start, stop, only) { return }
            guard fields.count < maxFieldCount, stop - start <= maxFieldLength,
                let field = makeField(bytes, start, stop)
            else { return }
            fields.append(field)
        }

        if requireFieldFirst, i < end, !isBlankLineStart(bytes, i, end), fieldNameEnd(bytes, i, end) == nil {
            return (MessageHeader(), range.lowerBound)
        }

        while i < end {
            let lineStart = i
            var j = i
            while j < end && bytes[j] != MailSyntax.lf { j += 1 }
            let lineEnd = j < end ? j + 1 : end
            let contentEnd = (j > lineStart && bytes[j - 1] == MailSyntax.cr) ? j - 1 : j
            if contentEnd == lineStart {
                // The empty line that separates header from body (RFC 5322 §2.1).
                if let s = fieldStart { flush(s, lineStart) }
                return (MessageHeader(fields: fields), lineEnd)
            }
            if MailSyntax.isWSP(bytes[lineStart]) && fieldStart != nil {
                i = lineEnd
                continue
            }
            if let s = fieldStart { flush(s, lineStart) }
            fieldStart = lineStart
            i = lineEnd
        }
        if let s = fieldStart { flush(s, end) }
        return (MessageHeader(fields: fields), end)
    }

    /// Whether the field line at `start` is named `lowercased` (ASCII case-insensitively).
    private static func hasName(_ bytes: [UInt8], _ start: Int, _ stop: Int, _ lowercased: [UInt8]) -> Bool {
        guard start + lowercased.count < stop else { return false }
        for (k, c) in lowercased.enumerated() {
            var b = bytes[start + k]
            if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { b += 32 }
            if b != c { return false }
        }
        // The name ends there: a colon, or WSP before it (obs-optional).
        var i = start + lowercased.count
        while i < stop, MailSyntax.isWSP(bytes[i]) { i += 1 }
        return i < stop && bytes[i] == UInt8(ascii: ":")
    }

    private static func isBlankLineStart(_ bytes: [UInt8], _ i: Int, _ end: Int) -> Bool {
        bytes[i] == MailSyntax.lf || (bytes[i] == MailSyntax.cr && (i + 1 == end || bytes[i + 1] == MailSyntax.lf))
    }

    /// If the line at `start` begins `field-name *WSP ":"`, the index of the colon.
    static func fieldNameEnd(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Int? {
        var i = start
        while i < end, bytes[i] >= 33, bytes[i] <= 126, bytes[i] != UInt8(ascii: ":") { i += 1 }
        guard i > start else { return nil }
        while i < end, MailSyntax.isWSP(bytes[i]) { i += 1 }
        guard i < end, bytes[i] == UInt8(ascii: ":") else { return nil }
        return i
    }

    private static func makeField(_ bytes: [UInt8], _ start: Int, _ stop: Int) -> HeaderField? {
        guard let colon = fieldNameEnd(bytes, start, stop) else { return nil }
        var nameEnd = colon
        while nameEnd > start, MailSyntax.isWSP(bytes[nameEnd - 1]) { nameEnd -= 1 }
        let name = String(decoding: bytes[start..<nameEnd], as: UTF8.self)

        // Unfold: RFC 5322 §2.2.3 removes each CRLF that precedes WSP. Every line break inside a
        // field precedes WSP by construction, so all of them go; a CR not before LF stays.
        var value: [UInt8] = []
        value.reserveCapacity(stop - colon)
        var k = colon + 1
        while k < stop {
            let b = bytes[k]
            if b == MailSyntax.lf || (b == MailSyntax.cr && k + 1 < stop && bytes[k + 1] == MailSyntax.lf) {
                k += 1
                continue
            }
            value.append(b)
            k += 1
        }
        let trimmed = MailSyntax.trimmed(value[...])
        return HeaderField(name: name, raw: Array(bytes[start..<stop]), value: MailSyntax.decodeText(trimmed))
    }
}
