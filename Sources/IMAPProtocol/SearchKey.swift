/// A SEARCH criterion (RFC 9051 §6.4.4, RFC 3501 §6.4.4), with MODSEQ (RFC 7162 §3.1.5) and
/// YOUNGER / OLDER (RFC 5032).
///
/// String arguments are the raw octets the client sent, to be interpreted in the command's
/// `CHARSET` (US-ASCII or UTF-8 unless the server supports more); the caller decodes them.
///
/// ```
/// search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date / "BODY" SP astring /
///              "CC" SP astring / "DELETED" / "FLAGGED" / "FROM" SP astring /
///              "KEYWORD" SP flag-keyword / "NEW" / "OLD" / "ON" SP date / "RECENT" / "SEEN" /
///              "SINCE" SP date / "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring /
///              "UNANSWERED" / "UNDELETED" / "UNFLAGGED" / "UNKEYWORD" SP flag-keyword /
///              "UNSEEN" / "DRAFT" / "HEADER" SP header-fld-name SP astring /
///              "LARGER" SP number64 / "NOT" SP search-key / "OR" SP search-key SP search-key /
///              "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
///              "SMALLER" SP number64 / "UID" SP sequence-set / "UNDRAFT" / sequence-set /
///              "(" search-key *(SP search-key) ")"
/// search-key =/ search-modsequence                      ; RFC 7162
/// search-key =/ "OLDER" SP nz-number / "YOUNGER" SP nz-number   ; RFC 5032
/// ```
public indirect enum SearchKey: Sendable, Hashable {
    case all
    case answered
    case bcc([UInt8])
    case before(IMAPDate)
    case body([UInt8])
    case cc([UInt8])
    case deleted
    case draft
    case flagged
    case from([UInt8])
    /// `HEADER field-name string`; an empty string matches every message that has the field.
    case header(field: String, value: [UInt8])
    case keyword(MessageFlag)
    case larger(UInt64)
    /// IMAP4rev1 only (RECENT and UNSEEN).
    case new
    case not(SearchKey)
    /// IMAP4rev1 only (NOT RECENT).
    case old
    case on(IMAPDate)
    case or(SearchKey, SearchKey)
    /// IMAP4rev1 only.
    case recent
    case seen
    case sentBefore(IMAPDate)
    case sentOn(IMAPDate)
    case sentSince(IMAPDate)
    case since(IMAPDate)
    case smaller(UInt64)
    case subject([UInt8])
    case text([UInt8])
    case to([UInt8])
    case uid(SequenceSet)
    case unanswered
    case undeleted
    case undraft
    case unflagged
    case unkeyword(MessageFlag)
    case unseen
    /// A bare sequence set (message sequence numbers).
    case sequenceSet(SequenceSet)
    /// A parenthesised list, or several keys at the top level: all must match.
    case and([SearchKey])
    /// `MODSEQ [entry-name entry-type] n` (RFC 7162 §3.1.5).
    case modSeq(UInt64, entry: ModSeqEntry?)
    /// `OLDER n`: INTERNALDATE more than n seconds ago (RFC 5032 §3).
    case older(UInt32)
    /// `YOUNGER n`: INTERNALDATE n seconds ago or later (RFC 5032 §3).
    case younger(UInt32)

    /// The optional metadata item of a MODSEQ search key (RFC 7162 §3.1.5).
    ///
    /// ```
    /// search-modseq-ext = SP entry-name SP entry-type-req
    /// entry-name        = entry-flag-name
    /// entry-flag-name   = DQUOTE "/flags/" attr-flag DQUOTE
    /// entry-type-req    = entry-type-resp / "all"
    /// entry-type-resp   = "priv" / "shared"
    /// ```
    public struct ModSeqEntry: Sendable, Hashable {
        public enum EntryType: String, Sendable, Hashable { case priv, shared, all }
        public var flag: MessageFlag
        public var type: EntryType
        public init(flag: MessageFlag, type: EntryType) {
            self.flag = flag
            self.type = type
        }
    }
}

/// What an extended SEARCH should return (RFC 4731 §3.1, RFC 5182 SAVE, RFC 9051 §6.4.4).
///
/// ```
/// search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE" / search-ret-opt-ext
/// ```
public enum SearchReturnOption: Sendable, Hashable {
    case min
    case max
    case all
    case count
    /// Store the result as `$` (RFC 5182).
    case save
}

/// The arguments of SEARCH / UID SEARCH (RFC 9051 §6.4.4).
///
/// ```
/// search             = "SEARCH" [search-return-opts] SP search-program
/// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
/// search-program     = ["CHARSET" SP charset SP] search-key *(SP search-key)
/// charset            = atom / quoted
/// ```
public struct SearchCommand: Sendable, Hashable {
    /// The `CHARSET` argument, upper-cased; `nil` when absent (US-ASCII, or UTF-8 under IMAP4rev2).
    public var charset: String?
    /// `nil` when no `RETURN` was given (a classic `* SEARCH` reply under IMAP4rev1); `[]` for
    /// `RETURN ()`, which means `ALL` in an ESEARCH reply (RFC 4731 §3.1).
    public var returnOptions: [SearchReturnOption]?
    /// Several top-level keys are combined into one `.and`.
    public var key: SearchKey

    public init(charset: String? = nil, returnOptions: [SearchReturnOption]? = nil, key: SearchKey) {
        self.charset = charset
        self.returnOptions = returnOptions
        self.key = key
    }
}

/// One key of a SORT command (RFC 5256 §3; DISPLAYFROM and DISPLAYTO from RFC 5957 §3).
public struct SortCriterion: Sendable, Hashable {
    public enum Key: String, Sendable, Hashable, CaseIterable {
        case arrival = "ARRIVAL", cc = "CC", date = "DATE", from = "FROM", size = "SIZE", subject = "SUBJECT", to = "TO"
        case displayFrom = "DISPLAYFROM", displayTo = "DISPLAYTO"
    }
    public var key: Key
    public var reverse: Bool
    public init(_ key: Key, reverse: Bool = false) { self.key = key; self.reverse = reverse }
}
