/// A body section specifier (RFC 9051 §6.4.5, §9).
///
/// ```
/// section          = "[" [section-spec] "]"
/// section-spec     = section-msgtext / (section-part ["." section-text])
/// section-msgtext  = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
/// section-part     = nz-number *("." nz-number)
/// section-text     = section-msgtext / "MIME"
/// header-list      = "(" header-fld-name *(SP header-fld-name) ")"
/// header-fld-name  = astring
/// ```
public struct SectionSpec: Sendable, Hashable, CustomStringConvertible {
    /// The part of a section after the part number (RFC 9051 §6.4.5).
    public enum Text: Sendable, Hashable {
        case header
        /// `HEADER.FIELDS (names)`; names as the client sent them (compare case-insensitively).
        case headerFields([String])
        /// `HEADER.FIELDS.NOT (names)`.
        case headerFieldsNot([String])
        case text
        /// `MIME`: only after a part number.
        case mime
    }

    /// The MIME part path, `[]` for the whole message (`1.2` is `[1, 2]`).
    public var part: [UInt32]
    public var text: Text?

    public init(part: [UInt32] = [], text: Text? = nil) {
        self.part = part
        self.text = text
    }

    /// `[]`: the whole message.
    public static let complete = SectionSpec()
    public static let header = SectionSpec(text: .header)
    public static let text = SectionSpec(text: .text)

    /// The section between the brackets as it appears on the wire (field names as atoms or
    /// quoted strings), e.g. `1.2.HEADER.FIELDS (From To)`.
    public var description: String {
        var out: [UInt8] = []
        IMAPEncoder.appendSection(self, to: &out, utf8: true)
        return String(decoding: out, as: UTF8.self)
    }
}

/// A partial-fetch range `<offset.length>` (RFC 9051 §6.4.5).
///
/// ```
/// partial = "<" number64 "." nz-number64 ">"
/// ```
public struct FetchPartial: Sendable, Hashable {
    public var offset: UInt64
    public var length: UInt64
    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }
}

/// A data item requested by FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).
///
/// The macros `ALL`, `FAST` and `FULL` are expanded by the parser into the items they stand for
/// (RFC 9051 §6.4.5).
///
/// ```
/// fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".TEXT"] /
///             "RFC822.SIZE" / "BODY" ["STRUCTURE"] / "UID" /
///             "BODY" section [partial] / "BODY.PEEK" section [partial] /
///             "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary
/// fetch-att =/ "MODSEQ"                          ; RFC 7162
/// section-binary = "[" [section-part] "]"
/// ```
public enum FetchAttribute: Sendable, Hashable {
    case envelope
    case flags
    case internalDate
    /// `RFC822`, the same as `BODY[]` but sets `\Seen` (IMAP4rev1).
    case rfc822
    case rfc822Header
    case rfc822Size
    /// `PREVIEW` / `PREVIEW (LAZY)` (RFC 8970 §3): a short plain-text abstract of the message.
    case preview(lazy: Bool)
    case rfc822Text
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    case bodyStructureNonExtensible
    case bodyStructure
    case uid
    case modSeq
    /// `BODY[section]<partial>` or, with `peek`, `BODY.PEEK[...]` (which does not set `\Seen`).
    case bodySection(SectionSpec, partial: FetchPartial?, peek: Bool)
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]` (RFC 3516 §4.2).
    case binary(part: [UInt32], partial: FetchPartial?, peek: Bool)
    /// `BINARY.SIZE[part]` (RFC 3516 §4.2).
    case binarySize(part: [UInt32])

    /// `FAST`: `(FLAGS INTERNALDATE RFC822.SIZE)`.
    public static let fast: [FetchAttribute] = [.flags, .internalDate, .rfc822Size]
    /// `ALL`: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    public static let all: [FetchAttribute] = [.flags, .internalDate, .rfc822Size, .envelope]
    /// `FULL`: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    public static let full: [FetchAttribute] = all + [.bodyStructureNonExtensible]
}

/// A FETCH modifier (RFC 7162 §3.1.4.1, §3.2.6).
///
/// ```
/// fetch-modifier      = chgsince-fetch-mod / "VANISHED"
/// chgsince-fetch-mod  = "CHANGEDSINCE" SP mod-sequence-value
/// ```
public enum FetchModifier: Sendable, Hashable {
    case changedSince(UInt64)
    /// Only with UID FETCH and CHANGEDSINCE, after ENABLE QRESYNC.
    case vanished
}
