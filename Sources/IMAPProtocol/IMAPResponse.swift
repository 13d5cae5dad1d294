/// A server response line (RFC 9051 §7, §9 `response`).
///
/// ```
/// response      = *(continue-req / response-data) response-done
/// continue-req  = "+" SP (resp-text / base64) CRLF
/// response-tagged = tag SP resp-cond-state CRLF
/// ```
public enum IMAPResponse: Sendable, Hashable {
    /// `tag OK|NO|BAD [code] text` (RFC 9051 §7.1).
    case tagged(tag: String, status: TaggedStatus, code: IMAPResponseCode? = nil, text: String)
    /// `* ...` (RFC 9051 §7.1-§7.5).
    case untagged(UntaggedResponse)
    /// `+ text`: ready for a literal, or IDLE accepted (RFC 9051 §7.5).
    case continuation(String)
    /// `+ base64`: a SASL challenge (RFC 9051 §6.2.2); empty data gives `+ `.
    case continuationData([UInt8])

    public static func ok(_ tag: String, _ code: IMAPResponseCode? = nil, _ text: String) -> IMAPResponse {
        .tagged(tag: tag, status: .ok, code: code, text: text)
    }
    public static func no(_ tag: String, _ code: IMAPResponseCode? = nil, _ text: String) -> IMAPResponse {
        .tagged(tag: tag, status: .no, code: code, text: text)
    }
    public static func bad(_ tag: String, _ code: IMAPResponseCode? = nil, _ text: String) -> IMAPResponse {
        .tagged(tag: tag, status: .bad, code: code, text: text)
    }
}

/// `resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text` (RFC 9051 §7.1)
public enum TaggedStatus: String, Sendable, Hashable {
    case ok = "OK"
    case no = "NO"
    case bad = "BAD"
}

/// Untagged status responses (RFC 9051 §7.1).
///
/// ```
/// resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
/// resp-cond-bye   = "BYE" SP resp-text
/// resp-cond-auth  = ("OK" / "PREAUTH") SP resp-text
/// ```
public enum UntaggedStatus: String, Sendable, Hashable {
    case ok = "OK"
    case no = "NO"
    case bad = "BAD"
    case bye = "BYE"
    case preauth = "PREAUTH"
}

/// Untagged response data (RFC 9051 §7.2-§7.5 and the extensions named on each case).
///
/// ```
/// response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
///                 capability-data / enable-data) CRLF
/// ```
public enum UntaggedResponse: Sendable, Hashable {
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text` (RFC 9051 §7.1).
    case condition(UntaggedStatus, code: IMAPResponseCode? = nil, text: String)
    /// `* CAPABILITY name...` (RFC 9051 §7.2.2).
    case capability([String])
    /// `* ENABLED name...` (RFC 5161 §3.2, RFC 9051 §7.2.1).
    case enabled([String])
    /// `* ID (...)` / `* ID NIL` (RFC 2971 §3.2).
    case id([IDParameter]?)
    /// `* n EXISTS` (RFC 9051 §7.4.1).
    case exists(UInt32)
    /// `* n RECENT` (RFC 3501 §7.3.2; IMAP4rev1 only).
    case recent(UInt32)
    /// `* n EXPUNGE` (RFC 9051 §7.5.1).
    case expunge(UInt32)
    /// `* VANISHED [(EARLIER)] uids` (QRESYNC, RFC 7162 §3.2.10).
    case vanished(earlier: Bool, SequenceSet)
    /// `* FLAGS (flags)` (RFC 9051 §7.3.5).
    case flags([MessageFlag])
    /// `* LIST (attrs) "delim" name [ext]` (RFC 9051 §7.3.1, RFC 5258 §3.4).
    case list(ListResponse)
    /// `* LSUB (attrs) "delim" name` (RFC 3501 §7.2.3).
    case lsub(ListResponse)
    /// `* STATUS name (items)` (RFC 9051 §7.3.4).
    case status(IMAPMailboxName, [StatusItem])
    /// `* SEARCH n...` with the optional `(MODSEQ n)` of RFC 7162 §3.1.5 (IMAP4rev1 only).
    case search([UInt32], modSeq: UInt64? = nil)
    /// `* SORT n...` (RFC 5256 §4), in the sorted order.
    case sort([UInt32])
    /// `* ESEARCH ...` (RFC 4731 §3.1, RFC 9051 §7.3.4).
    case esearch(ESearchResponse)
    /// `* n FETCH (items)` (RFC 9051 §7.5.2).
    case fetch(UInt32, [FetchResponseItem])
    /// `* NAMESPACE personal other shared` (RFC 2342 §5, RFC 9051 §7.3.3).
    case namespace(personal: [NamespaceDescription]?, other: [NamespaceDescription]?, shared: [NamespaceDescription]?)
    /// `* QUOTA root (resource usage limit ...)` (RFC 9208 §5.1).
    case quota(root: String, resources: [QuotaResource])
    /// `* QUOTAROOT mailbox root...` (RFC 9208 §5.2).
    case quotaRoot(IMAPMailboxName, roots: [String])
}

/// One mailbox of a LIST or LSUB response (RFC 9051 §7.3.1, RFC 5258 §3.4).
///
/// ```
/// mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
///                [SP mbox-list-extended]
/// mbox-list-extended = "(" [mbox-list-extended-item *(SP mbox-list-extended-item)] ")"
/// ```
public struct ListResponse: Sendable, Hashable {
    public var attributes: [MailboxAttribute]
    /// The hierarchy delimiter, `nil` for a flat namespace (NIL).
    public var delimiter: UInt8?
    /// The name as the client must see it, already converted by the caller (modified UTF-7 for
    /// IMAP4rev1 clients, UTF-8 for IMAP4rev2 / UTF8=ACCEPT).
    public var mailbox: IMAPMailboxName
    public var extended: [ListExtendedItem]

    public init(attributes: [MailboxAttribute], delimiter: UInt8? = UInt8(ascii: "/"), mailbox: IMAPMailboxName,
                extended: [ListExtendedItem] = []) {
        self.attributes = attributes
        self.delimiter = delimiter
        self.mailbox = mailbox
        self.extended = extended
    }
}

/// Extended data of a LIST response (RFC 5258 §3.5, RFC 9051 §7.3.1).
///
/// ```
/// mbox-list-extended-item = mbox-list-extended-item-tag SP tagged-ext-val
/// childinfo-extended-item = "CHILDINFO" SP "(" list-select-base-opt-quoted
///                           *(SP list-select-base-opt-quoted) ")"
/// oldname-extended-item   = "OLDNAME" SP "(" mailbox ")"
/// ```
public enum ListExtendedItem: Sendable, Hashable {
    /// e.g. `["SUBSCRIBED"]`: a child matches the selection criteria (RFC 5258 §3.5).
    case childInfo([String])
    /// The mailbox was renamed from this name (RFC 9051 §6.3.9.7).
    case oldName(IMAPMailboxName)
}

/// A `STATUS` response item (RFC 9051 §7.3.4).
///
/// ```
/// status-att-val = ("MESSAGES" SP number) / ("UIDNEXT" SP nz-number) / ("UIDVALIDITY" SP nz-number) /
///                  ("UNSEEN" SP number) / ("DELETED" SP number) / ("SIZE" SP number64) / ...
/// ```
public struct StatusItem: Sendable, Hashable {
    public var attribute: StatusAttribute
    public var value: UInt64
    public init(_ attribute: StatusAttribute, _ value: UInt64) {
        self.attribute = attribute
        self.value = value
    }
}

/// An ESEARCH response (RFC 4731 §3.1, RFC 9051 §7.3.4, MODSEQ RFC 7162 §3.1.5).
///
/// ```
/// esearch-response  = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)
/// search-correlator = SP "(" "TAG" SP tag-string ")"
/// search-return-data = "MIN" SP nz-number / "MAX" SP nz-number / "ALL" SP sequence-set /
///                      "COUNT" SP number / "MODSEQ" SP mod-sequence-value
/// ```
public struct ESearchResponse: Sendable, Hashable {
    /// The tag of the SEARCH command this answers.
    public var tag: String?
    public var uid: Bool
    public var min: UInt32?
    public var max: UInt32?
    public var count: UInt32?
    /// Omitted when empty (RFC 4731 §3.1: ALL is not returned for no matches).
    public var all: SequenceSet?
    public var modSeq: UInt64?

    public init(tag: String?, uid: Bool, min: UInt32? = nil, max: UInt32? = nil, count: UInt32? = nil,
                all: SequenceSet? = nil, modSeq: UInt64? = nil) {
        self.tag = tag
        self.uid = uid
        self.min = min
        self.max = max
        self.count = count
        self.all = all
        self.modSeq = modSeq
    }
}

/// `namespace-descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) ")"` (RFC 2342 §5)
public struct NamespaceDescription: Sendable, Hashable {
    public var prefix: IMAPMailboxName
    public var delimiter: UInt8?
    public init(prefix: IMAPMailboxName, delimiter: UInt8? = UInt8(ascii: "/")) {
        self.prefix = prefix
        self.delimiter = delimiter
    }
}

/// `quota-resource = resource-name SP resource-usage SP resource-limit` (RFC 9208 §9)
public struct QuotaResource: Sendable, Hashable {
    /// e.g. `STORAGE` (in units of 1024 octets) or `MESSAGE`.
    public var name: String
    public var usage: UInt64
    public var limit: UInt64
    public init(name: String, usage: UInt64, limit: UInt64) {
        self.name = name
        self.usage = usage
        self.limit = limit
    }
}

/// A data item of a FETCH response (RFC 9051 §7.5.2, BINARY RFC 3516 §4.3, MODSEQ RFC 7162 §3.1.4).
///
/// ```
/// msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")"
/// msg-att-static  = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time / "RFC822.SIZE" SP number64 /
///                   "BODY" ["STRUCTURE"] SP body / "BODY" section ["<" number ">"] SP nstring /
///                   "BINARY" section-binary SP (nstring / literal8) /
///                   "BINARY.SIZE" section-binary SP number / "UID" SP uniqueid
/// fetch-mod-resp  = "MODSEQ" SP "(" permsg-modsequence ")"
/// ```
public enum FetchResponseItem: Sendable, Hashable {
    case uid(UInt32)
    case flags([MessageFlag])
    /// Formatted as `"dd-Mon-yyyy hh:mm:ss +zzzz"`.
    case internalDate(IMAPDateTime)
    case rfc822Size(UInt64)
    /// `PREVIEW nstring` (RFC 8970 §3): UTF-8 text of at most 256 characters; NIL when none
    /// can be made now (PREVIEW (LAZY)).
    case preview(String?)
    case modSeq(UInt64)
    case envelope(Envelope)
    /// `BODY (...)`: the structure without extension data.
    case body(BodyStructure)
    /// `BODYSTRUCTURE (...)`: with extension data.
    case bodyStructure(BodyStructure)
    /// `BODY[section]<origin> data`; `origin` only for partial fetches; `nil` data is NIL.
    case bodySection(SectionSpec, origin: UInt64? = nil, data: [UInt8]?)
    /// `BINARY[part]<origin> data`: sent as literal8 when the data contains NUL (RFC 3516 §4.3).
    case binary(part: [UInt32], origin: UInt64? = nil, data: [UInt8]?)
    case binarySize(part: [UInt32], size: UInt64)
    /// IMAP4rev1 `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`.
    case rfc822([UInt8]?)
    case rfc822Header([UInt8]?)
    case rfc822Text([UInt8]?)
}
