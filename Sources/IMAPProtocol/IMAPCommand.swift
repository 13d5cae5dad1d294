/// A complete client command with its tag (RFC 9051 §2.2.1).
///
/// ```
/// command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
/// tag     = 1*<any ASTRING-CHAR except "+">
/// ```
public struct TaggedCommand: Sendable, Hashable {
    public var tag: String
    public var command: IMAPCommand

    public init(tag: String, command: IMAPCommand) {
        self.tag = tag
        self.command = command
    }
}

/// A client command (RFC 9051 §6, RFC 3501 §6, and the extensions named on each case).
///
/// Which state a command is valid in (not authenticated, authenticated, selected) is the session's
/// business, not the grammar's.
public enum IMAPCommand: Sendable, Hashable {
    // MARK: Any state (RFC 9051 §6.1)

    /// `CAPABILITY` (RFC 9051 §6.1.1).
    case capability
    /// `NOOP` (RFC 9051 §6.1.2).
    case noop
    /// `LOGOUT` (RFC 9051 §6.1.3).
    case logout
    /// `ID NIL` / `ID ("name" "value" ...)` (RFC 2971 §3.1). `nil` for `ID NIL`.
    case id([IDParameter]?)

    /// `COMPRESS algorithm` (RFC 4978 §3), authenticated or selected state; the name upper-cased.
    case compress(String)

    // MARK: Not authenticated (RFC 9051 §6.2)

    /// `STARTTLS` (RFC 9051 §6.2.1). Bytes pipelined after it must not be executed.
    case startTLS
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 9051 §6.2.2, SASL-IR RFC 4959 §3).
    /// `initialResponse` is the base64-decoded initial response; `=` gives `[]`, absent gives `nil`.
    ///
    /// ```
    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]
    /// initial-resp = (base64 / "=")
    /// ```
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    /// `LOGIN userid password` (RFC 9051 §6.2.3). Both are astrings decoded as UTF-8 (invalid
    /// sequences become U+FFFD, so such a password simply never matches).
    case login(username: String, password: String)

    // MARK: Authenticated (RFC 9051 §6.3)

    /// `ENABLE capability...` (RFC 5161 §3.1, RFC 9051 §6.3.1); names upper-cased.
    case enable([String])
    /// `SELECT mailbox [(params)]` (RFC 9051 §6.3.2, CONDSTORE/QRESYNC RFC 7162 §3.1.8, §3.2.5).
    case select(IMAPMailboxName, parameters: [SelectParameter])
    /// `EXAMINE mailbox [(params)]` (RFC 9051 §6.3.3).
    case examine(IMAPMailboxName, parameters: [SelectParameter])
    /// `CREATE mailbox [(USE (attrs))]` (RFC 9051 §6.3.4, RFC 6154 §3).
    case create(IMAPMailboxName, specialUse: [MailboxAttribute])
    /// `DELETE mailbox` (RFC 9051 §6.3.5).
    case delete(IMAPMailboxName)
    /// `RENAME from to` (RFC 9051 §6.3.6).
    case rename(from: IMAPMailboxName, to: IMAPMailboxName)
    /// `SUBSCRIBE mailbox` (RFC 9051 §6.3.7).
    case subscribe(IMAPMailboxName)
    /// `UNSUBSCRIBE mailbox` (RFC 9051 §6.3.8).
    case unsubscribe(IMAPMailboxName)
    /// `LIST` with the RFC 5258 extended syntax (RFC 9051 §6.3.9, LIST-STATUS RFC 5819).
    case list(ListCommand)
    /// `LSUB reference pattern` (RFC 3501 §6.3.9; obsolete in IMAP4rev2).
    case lsub(reference: IMAPMailboxName, pattern: IMAPMailboxName)
    /// `NAMESPACE` (RFC 2342, RFC 9051 §6.3.10).
    case namespace
    /// `STATUS mailbox (items)` (RFC 9051 §6.3.11).
    case status(IMAPMailboxName, items: [StatusAttribute])
    /// `APPEND mailbox [flags] [date-time] literal ...` (RFC 9051 §6.3.12); several messages
    /// (MULTIAPPEND, RFC 3502 §6) are appended atomically.
    case append(IMAPMailboxName, messages: [AppendMessage])
    /// `IDLE` (RFC 2177, RFC 9051 §6.3.13). The session then feeds bytes to
    /// ``IMAPCommandParser/parseIdleDone(_:)`` until `DONE`.
    case idle
    /// `GETQUOTA quota-root` (RFC 9208 §4.2).
    case getQuota(root: String)
    /// `GETQUOTAROOT mailbox` (RFC 9208 §4.3).
    case getQuotaRoot(IMAPMailboxName)
    /// `SETQUOTA quota-root (resource limit ...)` (RFC 9208 §4.1): the new limits of the root;
    /// a resource not named becomes unlimited.
    case setQuota(root: String, limits: [QuotaLimit])

    // MARK: Selected (RFC 9051 §6.4)

    /// `CHECK` (RFC 3501 §6.4.1; removed in IMAP4rev2, treated as NOOP).
    case check
    /// `CLOSE` (RFC 9051 §6.4.1).
    case close
    /// `UNSELECT` (RFC 3691, RFC 9051 §6.4.2).
    case unselect
    /// `EXPUNGE` (RFC 9051 §6.4.3).
    case expunge
    /// `UID EXPUNGE set` (RFC 4315 §2.1, RFC 9051 §6.4.9).
    case uidExpunge(SequenceSet)
    /// `[UID] SEARCH ...` (RFC 9051 §6.4.4, ESEARCH RFC 4731).
    case search(SearchCommand, uid: Bool)
    /// `[UID] SORT (criteria) charset search-keys` (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
    case sort([SortCriterion], SearchCommand, uid: Bool)
    /// `[UID] FETCH set items [(modifiers)]` (RFC 9051 §6.4.5, RFC 7162 §3.1.4, §3.2.6).
    case fetch(SequenceSet, attributes: [FetchAttribute], modifiers: [FetchModifier], uid: Bool)
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags` (RFC 9051 §6.4.6, RFC 7162 §3.1.3).
    case store(SequenceSet, unchangedSince: UInt64?, StoreAction, uid: Bool)
    /// `[UID] COPY set mailbox` (RFC 9051 §6.4.7).
    case copy(SequenceSet, IMAPMailboxName, uid: Bool)
    /// `[UID] MOVE set mailbox` (RFC 6851 §3.1, RFC 9051 §6.4.8).
    case move(SequenceSet, IMAPMailboxName, uid: Bool)

    /// The command name as a client would write it, e.g. `UID FETCH` (for logs).
    public var name: String {
        switch self {
        case .capability: "CAPABILITY"
        case .noop: "NOOP"
        case .logout: "LOGOUT"
        case .id: "ID"
        case .startTLS: "STARTTLS"
        case .compress: "COMPRESS"
        case .authenticate: "AUTHENTICATE"
        case .login: "LOGIN"
        case .enable: "ENABLE"
        case .select: "SELECT"
        case .examine: "EXAMINE"
        case .create: "CREATE"
        case .delete: "DELETE"
        case .rename: "RENAME"
        case .subscribe: "SUBSCRIBE"
        case .unsubscribe: "UNSUBSCRIBE"
        case .list: "LIST"
        case .lsub: "LSUB"
        case .namespace: "NAMESPACE"
        case .status: "STATUS"
        case .append: "APPEND"
        case .idle: "IDLE"
        case .getQuota: "GETQUOTA"
        case .getQuotaRoot: "GETQUOTAROOT"
        case .setQuota: "SETQUOTA"
        case .check: "CHECK"
        case .close: "CLOSE"
        case .unselect: "UNSELECT"
        case .expunge: "EXPUNGE"
        case .uidExpunge: "UID EXPUNGE"
        case .search(_, let uid): uid ? "UID SEARCH" : "SEARCH"
        case .sort(_, _, let uid): uid ? "UID SORT" : "SORT"
        case .fetch(_, _, _, let uid): uid ? "UID FETCH" : "FETCH"
        case .store(_, _, _, let uid): uid ? "UID STORE" : "STORE"
        case .copy(_, _, let uid): uid ? "UID COPY" : "COPY"
        case .move(_, _, let uid): uid ? "UID MOVE" : "MOVE"
        }
    }
}

/// One `field value` pair of the ID command or response (RFC 2971 §3.1).
///
/// ```
/// id-params-list = "(" #(string SP nstring) ")" / nil
/// ```
public struct IDParameter: Sendable, Hashable {
    public var key: String
    public var value: String?
    public init(key: String, value: String?) {
        self.key = key
        self.value = value
    }
}

/// A SELECT / EXAMINE parameter (RFC 4466 §2.1, RFC 7162 §3.1.8 and §3.2.5).
///
/// ```
/// select-params = SP "(" select-param *(SP select-param) ")"
/// select-param  = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
///                 [SP known-uids] [SP seq-match-data] ")"
/// ```
public enum SelectParameter: Sendable, Hashable {
    case condStore
    case qresync(QResyncParameters)
}

/// The arguments of `QRESYNC` in SELECT / EXAMINE (RFC 7162 §3.2.5).
///
/// ```
/// known-uids     = sequence-set          ; "*" is not allowed
/// seq-match-data = "(" known-sequence-set SP known-uid-set ")"
/// ```
public struct QResyncParameters: Sendable, Hashable {
    public var uidValidity: UInt32
    public var modSeq: UInt64
    public var knownUIDs: SequenceSet?
    public var sequenceMatch: SequenceMatch?

    /// Known message sequence numbers and the UIDs they had, for the server to find where the
    /// client's view diverges (RFC 7162 §3.2.5.2).
    public struct SequenceMatch: Sendable, Hashable {
        public var knownSequenceSet: SequenceSet
        public var knownUIDSet: SequenceSet
        public init(knownSequenceSet: SequenceSet, knownUIDSet: SequenceSet) {
            self.knownSequenceSet = knownSequenceSet
            self.knownUIDSet = knownUIDSet
        }
    }

    public init(uidValidity: UInt32, modSeq: UInt64, knownUIDs: SequenceSet? = nil, sequenceMatch: SequenceMatch? = nil) {
        self.uidValidity = uidValidity
        self.modSeq = modSeq
        self.knownUIDs = knownUIDs
        self.sequenceMatch = sequenceMatch
    }
}

/// The LIST command with the LIST-EXTENDED syntax (RFC 5258 §3, RFC 9051 §6.3.9).
///
/// ```
/// list             = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
/// list-select-opts = "(" [list-select-opt *(SP list-select-opt)] ")"
/// mbox-or-pat      = list-mailbox / patterns
/// patterns         = "(" list-mailbox *(SP list-mailbox) ")"
/// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
/// ```
public struct ListCommand: Sendable, Hashable {
    public var selectionOptions: [ListSelectionOption]
    public var reference: IMAPMailboxName
    /// One or more patterns with `*` and `%` wildcards; `""` asks for the delimiter.
    public var patterns: [IMAPMailboxName]
    public var returnOptions: [ListReturnOption]

    public init(selectionOptions: [ListSelectionOption] = [], reference: IMAPMailboxName,
                patterns: [IMAPMailboxName], returnOptions: [ListReturnOption] = []) {
        self.selectionOptions = selectionOptions
        self.reference = reference
        self.patterns = patterns
        self.returnOptions = returnOptions
    }
}

/// A LIST selection option (RFC 5258 §3.1, SPECIAL-USE RFC 6154 §3).
///
/// ```
/// list-select-base-opt = "SUBSCRIBED" / option-extension
/// list-select-mod-opt  = "RECURSIVEMATCH" / option-extension
/// list-select-independent-opt = "REMOTE" / option-extension
/// ```
public enum ListSelectionOption: Sendable, Hashable {
    case subscribed
    case remote
    case recursiveMatch
    case specialUse
}

/// A LIST return option (RFC 5258 §3.2, LIST-STATUS RFC 5819 §2, SPECIAL-USE RFC 6154 §3).
///
/// ```
/// return-option = "SUBSCRIBED" / "CHILDREN" / status-option / "SPECIAL-USE" / option-extension
/// status-option = "STATUS" SP "(" status-att *(SP status-att) ")"
/// ```
public enum ListReturnOption: Sendable, Hashable {
    case subscribed
    case children
    case specialUse
    case status([StatusAttribute])
}

/// A STATUS data item (RFC 9051 §6.3.11, CONDSTORE RFC 7162 §3.1.9, APPENDLIMIT RFC 7889).
///
/// ```
/// status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE" /
///              "RECENT" / "HIGHESTMODSEQ" / "APPENDLIMIT"
/// ```
public enum StatusAttribute: String, Sendable, Hashable, CaseIterable {
    case messages = "MESSAGES"
    case recent = "RECENT"
    case uidNext = "UIDNEXT"
    case uidValidity = "UIDVALIDITY"
    case unseen = "UNSEEN"
    case deleted = "DELETED"
    case size = "SIZE"
    case highestModSeq = "HIGHESTMODSEQ"
    case appendLimit = "APPENDLIMIT"
}

/// One message of an APPEND (RFC 9051 §6.3.12, MULTIAPPEND RFC 3502, BINARY RFC 3516 §4.4).
///
/// ```
/// append         = "APPEND" SP mailbox 1*append-message
/// append-message = append-opts SP append-data
/// append-opts    = [SP flag-list] [SP date-time]
/// append-data    = literal / literal8
/// ```
public struct AppendMessage: Sendable, Hashable {
    public var flags: [MessageFlag]
    public var internalDate: IMAPDateTime?
    /// The message octets.
    public var data: [UInt8]
    /// `true` when sent as `literal8` (`~{n}`): the data may contain NUL and bare 8-bit octets
    /// (RFC 3516 §4.4), and the server must accept it as binary content.
    public var isBinary: Bool

    public init(flags: [MessageFlag] = [], internalDate: IMAPDateTime? = nil, data: [UInt8], isBinary: Bool = false) {
        self.flags = flags
        self.internalDate = internalDate
        self.data = data
        self.isBinary = isBinary
    }
}

/// The flag change of a STORE (RFC 9051 §6.4.6).
///
/// ```
/// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
/// ```
public struct StoreAction: Sendable, Hashable {
    public enum Operation: Sendable, Hashable {
        /// `FLAGS`: replace.
        case replace
        /// `+FLAGS`.
        case add
        /// `-FLAGS`.
        case remove
    }

    public var operation: Operation
    /// `.SILENT`: no untagged FETCH with the new flags.
    public var silent: Bool
    public var flags: [MessageFlag]

    public init(operation: Operation, silent: Bool = false, flags: [MessageFlag]) {
        self.operation = operation
        self.silent = silent
        self.flags = flags
    }
}

/// `setquota-resource = resource-name SP resource-limit` (RFC 9208 §9).
public struct QuotaLimit: Sendable, Hashable {
    /// Upper-cased: `STORAGE` (units of 1024 octets), `MESSAGE`, ...
    public var resource: String
    public var limit: UInt64
    public init(resource: String, limit: UInt64) {
        self.resource = resource
        self.limit = limit
    }
}
