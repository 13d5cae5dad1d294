import LineFraming
// The recursive-descent grammar of client commands (RFC 9051 §9, RFC 3501 §9 and extensions).
//
// `CommandGrammar` works on one command that the framer in IMAPCommandParser.swift has already
// delimited: every line and every literal's data, without the final CRLF. It never sees bytes of
// the next command, so a literal's data can never be interpreted as a command. Each element
// parser carries its ABNF production.
//
// It can also validate a prefix that ends right after a synchronizing literal's header: then
// the literal reader throws `.incomplete`, which means "valid so far", and the framer may send
// "+". Literal payloads are not copied in that mode.

struct GrammarError: Error {
    var message: String
    /// The input ended inside a literal's data: only possible when validating a prefix.
    var incomplete: Bool = false
}

struct CommandGrammar {
    let bytes: [UInt8]
    let end: Int
    let limits: IMAPCommandParser.Configuration
    /// `false` while validating a prefix: payloads need not be copied.
    let materialize: Bool
    var i = 0
    var depth = 0
    /// The command name for error messages, e.g. `UID FETCH`.
    var label = ""

    init(bytes: [UInt8], end: Int, limits: IMAPCommandParser.Configuration, materialize: Bool = true) {
        self.bytes = bytes
        self.end = end
        self.limits = limits
        self.materialize = materialize
    }

    // MARK: - Primitives

    var atEnd: Bool { i >= end }

    @inline(__always) func peek() -> UInt8? { i < end ? bytes[i] : nil }

    @inline(__always) mutating func consume(_ b: UInt8) -> Bool {
        if i < end, bytes[i] == b { i += 1; return true }
        return false
    }

    /// A short, printable excerpt of the input at the current position for error messages (never
    /// containing CR or LF, which would break the response line).
    func excerpt() -> String {
        if atEnd { return "end of line" }
        let stop = min(end, i + 20)
        var s = "\""
        for b in bytes[i..<stop] {
            s.append(b >= 0x20 && b < 0x7F && b != ASCII.dquote ? Character(UnicodeScalar(b)) : "?")
        }
        return s + (stop < end ? "...\"" : "\"")
    }

    func expected(_ what: String) -> GrammarError {
        GrammarError(message: "expected \(what) at \(excerpt())")
    }

    static func printable<C: Collection<UInt8>>(_ bytes: C) -> String {
        var s = ""
        for b in bytes.prefix(40) {
            s.append(b >= 0x20 && b < 0x7F ? Character(UnicodeScalar(b)) : "?")
        }
        return bytes.count > 40 ? s + "..." : s
    }

    mutating func sp() throws(GrammarError) {
        guard consume(ASCII.space) else { throw expected("SP") }
    }

    mutating func expect(_ b: UInt8, _ what: String) throws(GrammarError) {
        guard consume(b) else { throw expected(what) }
    }

    mutating func enterNesting() throws(GrammarError) {
        depth += 1
        if depth > limits.maxNestingDepth {
            throw GrammarError(message: "nesting deeper than \(limits.maxNestingDepth) levels")
        }
    }

    /// A run of bytes matching `predicate`, possibly empty.
    mutating func run(_ predicate: (UInt8) -> Bool) -> Range<Int> {
        let start = i
        while i < end, predicate(bytes[i]) { i += 1 }
        return start..<i
    }

    /// `atom = 1*ATOM-CHAR`
    mutating func atom(_ what: String) throws(GrammarError) -> ArraySlice<UInt8> {
        let r = run(ASCII.isAtomChar)
        guard !r.isEmpty else { throw expected(what) }
        return bytes[r]
    }

    /// An atom used as a keyword, upper-cased for matching.
    mutating func keyword(_ what: String) throws(GrammarError) -> String {
        ASCII.uppercased(try atom(what))
    }

    /// A keyword that must be followed by one of the `stop` bytes or SP / ")" (used where
    /// ATOM-CHARs such as "[" or "<" start the next element).
    mutating func keyword(_ what: String, stoppingAt stop: UInt8) throws(GrammarError) -> String {
        let r = run { ASCII.isAtomChar($0) && $0 != stop }
        guard !r.isEmpty else { throw expected(what) }
        return ASCII.uppercased(bytes[r])
    }

    mutating func expectKeyword(_ kw: StaticString) throws(GrammarError) {
        let start = i
        let r = run(ASCII.isAtomChar)
        guard ASCII.equalsKeyword(bytes[r], kw) else {
            i = start
            throw expected("\"\(kw)\"")
        }
    }

    /// ```
    /// number   = 1*DIGIT      ; unsigned 32-bit
    /// number64 = 1*DIGIT      ; unsigned 63-bit
    /// ```
    mutating func number(_ what: String, max: UInt64) throws(GrammarError) -> UInt64 {
        let r = run(ASCII.isDigit)
        guard !r.isEmpty else { throw expected(what) }
        var v: UInt64 = 0
        for b in bytes[r] {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - ASCII.zero))
            guard !o1, !o2, a <= max else { throw GrammarError(message: "\(what) is too large") }
            v = a
        }
        return v
    }

    mutating func number32(_ what: String) throws(GrammarError) -> UInt32 {
        UInt32(try number(what, max: UInt64(UInt32.max)))
    }

    /// `nz-number = digit-nz *DIGIT`
    mutating func nzNumber(_ what: String) throws(GrammarError) -> UInt32 {
        let start = i
        let n = try number32(what)
        guard n != 0 else {
            i = start
            throw GrammarError(message: "\(what) must not be 0")
        }
        return n
    }

    static let maxNumber64 = UInt64(Int64.max)

    /// `mod-sequence-value = 1*DIGIT ; positive unsigned 63-bit integer` (RFC 7162 §7)
    mutating func modSequenceValue() throws(GrammarError) -> UInt64 {
        let v = try number("mod-sequence value", max: Self.maxNumber64)
        guard v != 0 else { throw GrammarError(message: "mod-sequence value must not be 0") }
        return v
    }

    /// `mod-sequence-valzer = "0" / mod-sequence-value` (RFC 7162 §7)
    mutating func modSequenceValzer() throws(GrammarError) -> UInt64 {
        try number("mod-sequence value", max: Self.maxNumber64)
    }

    /// ```
    /// quoted          = DQUOTE *QUOTED-CHAR DQUOTE
    /// QUOTED-CHAR     = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials /
    ///                   UTF8-2 / UTF8-3 / UTF8-4                      ; RFC 9051
    /// quoted-specials = DQUOTE / "\"
    /// ```
    mutating func quoted() throws(GrammarError) -> [UInt8] {
        guard consume(ASCII.dquote) else { throw expected("quoted string") }
        var out: [UInt8] = []
        while i < end {
            let b = bytes[i]
            switch b {
            case ASCII.dquote:
                i += 1
                return out
            case ASCII.backslash:
                guard i + 1 < end, bytes[i + 1] == ASCII.dquote || bytes[i + 1] == ASCII.backslash else {
                    throw GrammarError(message: "invalid escape in quoted string (only \\\" and \\\\ are allowed)")
                }
                out.append(bytes[i + 1])
                i += 2
            case ASCII.cr, ASCII.lf, ASCII.nul:
                throw GrammarError(message: "quoted string contains CR, LF or NUL")
            default:
                // 8-bit octets are accepted: UTF-8 under IMAP4rev2 / UTF8=ACCEPT (RFC 9051 §9).
                out.append(b)
                i += 1
            }
        }
        throw GrammarError(message: "unterminated quoted string")
    }

    /// A literal's header and data; returns the data's range in `bytes`.
    ///
    /// ```
    /// literal  = "{" number64 ["+"] "}" CRLF *CHAR8      ; RFC 9051, LITERAL+ RFC 7888
    /// literal8 = "~{" number64 ["+"] "}" CRLF *OCTET     ; RFC 3516
    /// ```
    mutating func literal(allowBinary: Bool) throws(GrammarError) -> (data: Range<Int>, binary: Bool) {
        let binary = consume(ASCII.tilde)
        if binary && !allowBinary {
            throw GrammarError(message: "literal8 (~{n}) is only allowed for APPEND message data")
        }
        guard consume(ASCII.leftBrace) else { throw expected("literal") }
        let size = try number("literal size", max: Self.maxNumber64)
        _ = consume(ASCII.plus)
        try expect(ASCII.rightBrace, "\"}\" of literal")
        _ = consume(ASCII.cr)
        guard consume(ASCII.lf) else { throw GrammarError(message: "literal header must end the line") }
        guard UInt64(end - i) >= size else {
            // Only when validating a prefix that stops before the data.
            throw GrammarError(message: "unexpected end of command inside literal", incomplete: true)
        }
        let r = i..<(i + Int(size))
        i = r.upperBound
        return (r, binary)
    }

    /// A literal used as a string: CHAR8 excludes NUL (RFC 9051 §9).
    mutating func literalString() throws(GrammarError) -> [UInt8] {
        let r = try literal(allowBinary: false).data
        if !materialize { return [] }
        let data = bytes[r]
        if data.contains(ASCII.nul) { throw GrammarError(message: "literal contains NUL") }
        return Array(data)
    }

    /// `string = quoted / literal`
    mutating func string(_ what: String) throws(GrammarError) -> [UInt8] {
        switch peek() {
        case ASCII.dquote: return try quoted()
        case ASCII.leftBrace: return try literalString()
        default: throw expected(what)
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`
    mutating func astring(_ what: String) throws(GrammarError) -> [UInt8] {
        switch peek() {
        case ASCII.dquote: return try quoted()
        case ASCII.leftBrace: return try literalString()
        default:
            let r = run(ASCII.isAStringChar)
            guard !r.isEmpty else { throw expected(what) }
            return Array(bytes[r])
        }
    }

    /// `nstring = string / nil`
    mutating func nstring(_ what: String) throws(GrammarError) -> [UInt8]? {
        if let b = peek(), b == UInt8(ascii: "N") || b == UInt8(ascii: "n") {
            try expectKeyword("NIL")
            return nil
        }
        return try string(what)
    }

    static func utf8(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// `mailbox = "INBOX" / astring` (the INBOX rule is applied by the caller).
    mutating func mailbox() throws(GrammarError) -> IMAPMailboxName {
        IMAPMailboxName(try astring("mailbox name"))
    }

    /// `list-mailbox = 1*list-char / string`
    mutating func listMailbox() throws(GrammarError) -> IMAPMailboxName {
        switch peek() {
        case ASCII.dquote, ASCII.leftBrace: return IMAPMailboxName(try string("mailbox pattern"))
        default:
            let r = run(ASCII.isListChar)
            guard !r.isEmpty else { throw expected("mailbox pattern") }
            return IMAPMailboxName(Array(bytes[r]))
        }
    }

    // MARK: - Sequence sets, flags, dates

    /// ```
    /// sequence-set     = (seq-number / seq-range) ["," sequence-set]
    /// sequence-set     =/ seq-last-command             ; RFC 5182
    /// seq-range        = seq-number ":" seq-number
    /// seq-number       = nz-number / "*"
    /// seq-last-command = "$"
    /// ```
    mutating func sequenceSet() throws(GrammarError) -> SequenceSet {
        var elements: [SequenceSet.Element] = []
        repeat {
            if elements.count >= limits.maxSequenceRanges {
                throw GrammarError(message: "sequence set has more than \(limits.maxSequenceRanges) ranges")
            }
            if consume(ASCII.dollar) {
                elements.append(.savedResult)
                continue
            }
            let a = try seqNumber()
            if consume(ASCII.colon) {
                elements.append(.range(from: a, to: try seqNumber()))
            } else {
                elements.append(.range(from: a, to: a))
            }
        } while consume(ASCII.comma)
        return SequenceSet(elements)
    }

    mutating func seqNumber() throws(GrammarError) -> SequenceNumber {
        if consume(ASCII.star) { return .last }
        guard let b = peek(), ASCII.isDigit(b) else { throw expected("sequence set") }
        return .number(try nzNumber("sequence number"))
    }

    /// ```
    /// flag           = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
    ///                  flag-keyword / flag-extension
    /// flag-keyword   = atom
    /// flag-extension = "\" atom
    /// ```
    mutating func flag() throws(GrammarError) -> MessageFlag {
        if consume(ASCII.backslash) {
            if peek() == ASCII.star {
                throw GrammarError(message: "\\* is not a flag that can be set")
            }
            return MessageFlag.systemOrExtension(try atom("flag name after \"\\\""))
        }
        return .keyword(Self.utf8(Array(try atom("flag"))))
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`
    mutating func flagList() throws(GrammarError) -> [MessageFlag] {
        try expect(ASCII.leftParen, "\"(\" of flag list")
        var flags: [MessageFlag] = []
        if consume(ASCII.rightParen) { return flags }
        repeat { flags.append(try flag()) } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of flag list")
        return flags
    }

    /// ```
    /// date       = date-text / DQUOTE date-text DQUOTE
    /// date-text  = date-day "-" date-month "-" date-year
    /// date-day   = 1*2DIGIT
    /// ```
    mutating func date() throws(GrammarError) -> IMAPDate {
        let quotedDate = consume(ASCII.dquote)
        let dayRange = run(ASCII.isDigit)
        guard (1...2).contains(dayRange.count) else { throw expected("date (d-Mon-yyyy)") }
        let day = Self.digits(bytes[dayRange])
        try expect(ASCII.minus, "\"-\" in date")
        let month = try monthName()
        try expect(ASCII.minus, "\"-\" in date")
        let year = try fixedDigits(4, "four-digit year")
        guard (1...31).contains(day) else { throw GrammarError(message: "day \(day) is out of range") }
        if quotedDate { try expect(ASCII.dquote, "closing quote of date") }
        return IMAPDate(year: year, month: month, day: day)
    }

    mutating func monthName() throws(GrammarError) -> Int {
        let r = i..<min(end, i + 3)
        guard let m = CivilCalendar.month(bytes[r]) else { throw expected("month name (Jan...Dec)") }
        i = r.upperBound
        return m
    }

    mutating func fixedDigits(_ count: Int, _ what: String) throws(GrammarError) -> Int {
        guard end - i >= count, bytes[i..<(i + count)].allSatisfy(ASCII.isDigit) else { throw expected(what) }
        let v = Self.digits(bytes[i..<(i + count)])
        i += count
        return v
    }

    static func digits(_ d: ArraySlice<UInt8>) -> Int {
        d.reduce(0) { $0 * 10 + Int($1 - ASCII.zero) }
    }

    /// ```
    /// date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    /// date-day-fixed = (SP DIGIT) / 2DIGIT
    /// time           = 2DIGIT ":" 2DIGIT ":" 2DIGIT
    /// zone           = ("+" / "-") 4DIGIT
    /// ```
    mutating func dateTime() throws(GrammarError) -> IMAPDateTime {
        try expect(ASCII.dquote, "date-time")
        let day: Int
        if consume(ASCII.space) {
            day = try fixedDigits(1, "day")
        } else {
            // Some clients send a single-digit day without the padding space; accept it.
            let r = run(ASCII.isDigit)
            guard (1...2).contains(r.count) else { throw expected("day of date-time") }
            day = Self.digits(bytes[r])
        }
        try expect(ASCII.minus, "\"-\" in date-time")
        let month = try monthName()
        try expect(ASCII.minus, "\"-\" in date-time")
        let year = try fixedDigits(4, "four-digit year")
        try sp()
        let hour = try fixedDigits(2, "hour")
        try expect(ASCII.colon, "\":\" in time")
        let minute = try fixedDigits(2, "minute")
        try expect(ASCII.colon, "\":\" in time")
        let second = try fixedDigits(2, "second")
        try sp()
        let sign: Int
        if consume(ASCII.plus) { sign = 1 } else if consume(ASCII.minus) { sign = -1 } else { throw expected("zone (+hhmm or -hhmm)") }
        let zone = try fixedDigits(4, "four-digit zone")
        try expect(ASCII.dquote, "closing quote of date-time")
        guard (1...CivilCalendar.daysInMonth(year: year, month: month)).contains(day), hour < 24, minute < 60, second <= 60,
              zone % 100 < 60
        else { throw GrammarError(message: "date-time is out of range") }
        return IMAPDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                            zoneMinutes: sign * (zone / 100 * 60 + zone % 100))
    }

    // MARK: - Command

    /// ```
    /// command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
    /// ```
    mutating func taggedCommand() throws(GrammarError) -> TaggedCommand {
        let tagRange = run(ASCII.isTagChar)
        guard !tagRange.isEmpty else { throw expected("tag") }
        let tag = Self.utf8(Array(bytes[tagRange]))
        try sp()
        let command = try self.command()
        guard atEnd else { throw GrammarError(message: "unexpected characters at \(excerpt()) after \(command.name) arguments") }
        return TaggedCommand(tag: tag, command: command)
    }

    mutating func command() throws(GrammarError) -> IMAPCommand {
        let name = try keyword("command name")
        label = name
        do {
            return try commandArguments(name)
        } catch {
            if error.incomplete { throw error }
            throw GrammarError(message: "\(label): \(error.message)")
        }
    }

    mutating func commandArguments(_ name: String) throws(GrammarError) -> IMAPCommand {
        switch name {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "LOGOUT": return .logout
        case "STARTTLS": return .startTLS
        case "COMPRESS":
            // compress = "COMPRESS" SP algorithm   ; RFC 4978 §4
            try sp()
            return .compress(try keyword("compression algorithm"))
        case "NAMESPACE": return .namespace
        case "CHECK": return .check
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "EXPUNGE": return .expunge
        case "IDLE": return .idle
        case "ID":
            try sp()
            return .id(try idParameters())
        case "AUTHENTICATE":
            try sp()
            return try authenticate()
        case "LOGIN":
            // login = "LOGIN" SP userid SP password
            try sp()
            let user = try astring("user name")
            try sp()
            let password = try astring("password")
            return .login(username: Self.utf8(user), password: Self.utf8(password))
        case "ENABLE":
            // enable = "ENABLE" 1*(SP capability)
            var caps: [String] = []
            repeat {
                try sp()
                caps.append(try keyword("capability name"))
            } while !atEnd
            return .enable(caps)
        case "SELECT", "EXAMINE":
            // select = "SELECT" SP mailbox [select-params]
            try sp()
            let mailbox = try self.mailbox()
            let params = try selectParameters()
            return name == "SELECT" ? .select(mailbox, parameters: params) : .examine(mailbox, parameters: params)
        case "CREATE":
            try sp()
            let mailbox = try self.mailbox()
            return .create(mailbox, specialUse: try createParameters())
        case "DELETE":
            try sp()
            return .delete(try mailbox())
        case "RENAME":
            // rename = "RENAME" SP mailbox SP mailbox
            try sp()
            let from = try mailbox()
            try sp()
            return .rename(from: from, to: try mailbox())
        case "SUBSCRIBE":
            try sp()
            return .subscribe(try mailbox())
        case "UNSUBSCRIBE":
            try sp()
            return .unsubscribe(try mailbox())
        case "LIST":
            try sp()
            return .list(try list())
        case "LSUB":
            // lsub = "LSUB" SP mailbox SP list-mailbox
            try sp()
            let reference = try mailbox()
            try sp()
            return .lsub(reference: reference, pattern: try listMailbox())
        case "STATUS":
            // status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
            try sp()
            let mailbox = try self.mailbox()
            try sp()
            return .status(mailbox, items: try statusAttributes())
        case "APPEND":
            try sp()
            return try append()
        case "GETQUOTA":
            // getquota = "GETQUOTA" SP quota-root-name
            try sp()
            return .getQuota(root: Self.utf8(try astring("quota root")))
        case "GETQUOTAROOT":
            // getquotaroot = "GETQUOTAROOT" SP mailbox
            try sp()
            return .getQuotaRoot(try mailbox())
        case "SETQUOTA":
            // setquota          = "SETQUOTA" SP quota-root-name SP setquota-list
            // setquota-list     = "(" [setquota-resource *(SP setquota-resource)] ")"
            // setquota-resource = resource-name SP resource-limit
            // resource-limit    = number64
            try sp()
            let root = Self.utf8(try astring("quota root"))
            try sp()
            try expect(ASCII.leftParen, "\"(\" of the resource list")
            var limits: [QuotaLimit] = []
            if !consume(ASCII.rightParen) {
                repeat {
                    guard limits.count < 16 else { throw GrammarError(message: "too many quota resources") }
                    let resource = try keyword("resource name")
                    try sp()
                    limits.append(QuotaLimit(resource: resource, limit: try number("resource limit", max: UInt64(Int64.max))))
                } while consume(ASCII.space)
                try expect(ASCII.rightParen, "\")\" of the resource list")
            }
            return .setQuota(root: root, limits: limits)
        case "SEARCH": return .search(try search(), uid: false)
        case "SORT": return try sort(uid: false)
        case "FETCH": return try fetch(uid: false)
        case "STORE": return try store(uid: false)
        case "COPY", "MOVE": return try copyOrMove(name, uid: false)
        case "UID":
            // uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)
            try sp()
            let sub = try keyword("UID command")
            label = "UID " + sub
            switch sub {
            case "SEARCH": return .search(try search(), uid: true)
            case "SORT": return try sort(uid: true)
            case "FETCH": return try fetch(uid: true)
            case "STORE": return try store(uid: true)
            case "COPY", "MOVE": return try copyOrMove(sub, uid: true)
            case "EXPUNGE":
                // uid-expunge = "UID" SP "EXPUNGE" SP sequence-set
                try sp()
                return .uidExpunge(try sequenceSet())
            default:
                label = "UID"
                throw GrammarError(message: "unknown UID command \(Self.printable(Array(sub.utf8)))")
            }
        default:
            throw GrammarError(message: "unknown command")
        }
    }

    /// `id-params-list = "(" #(string SP nstring) ")" / nil` (RFC 2971 §4)
    mutating func idParameters() throws(GrammarError) -> [IDParameter]? {
        if peek() != ASCII.leftParen {
            try expectKeyword("NIL")
            return nil
        }
        i += 1
        var params: [IDParameter] = []
        if consume(ASCII.rightParen) { return params }
        repeat {
            // Keys are strings; accept atoms too, as some clients send them unquoted.
            let key = try astring("ID field name")
            try sp()
            let value = try nstring("ID field value")
            params.append(IDParameter(key: Self.utf8(key), value: value.map(Self.utf8)))
        } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of ID list")
        return params
    }

    /// ```
    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]
    /// auth-type    = atom
    /// initial-resp = (base64 / "=")            ; RFC 4959
    /// ```
    mutating func authenticate() throws(GrammarError) -> IMAPCommand {
        let mechanism = try keyword("SASL mechanism name")
        guard consume(ASCII.space) else { return .authenticate(mechanism: mechanism, initialResponse: nil) }
        let r = run { $0 != ASCII.space }
        guard !r.isEmpty else { throw expected("initial response") }
        let text = bytes[r]
        if text.count == 1, text.first == ASCII.equals {
            return .authenticate(mechanism: mechanism, initialResponse: [])
        }
        guard let decoded = Base64.decode(text) else {
            throw GrammarError(message: "initial response is not valid base64")
        }
        return .authenticate(mechanism: mechanism, initialResponse: decoded)
    }

    /// ```
    /// select-params = SP "(" select-param *(SP select-param) ")"
    /// select-param  = "CONDSTORE" /
    ///                 "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
    ///                 [SP seq-match-data] ")"                        ; RFC 7162 §7
    /// seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    /// ```
    mutating func selectParameters() throws(GrammarError) -> [SelectParameter] {
        guard consume(ASCII.space) else { return [] }
        try expect(ASCII.leftParen, "\"(\" of SELECT parameters")
        var params: [SelectParameter] = []
        if consume(ASCII.rightParen) { return params }
        repeat {
            let name = try keyword("SELECT parameter")
            switch name {
            case "CONDSTORE":
                params.append(.condStore)
            case "QRESYNC":
                try sp()
                try expect(ASCII.leftParen, "\"(\" of QRESYNC parameters")
                let uidValidity = try nzNumber("UIDVALIDITY")
                try sp()
                let modSeq = try modSequenceValue()
                var q = QResyncParameters(uidValidity: uidValidity, modSeq: modSeq)
                if consume(ASCII.space) {
                    if peek() != ASCII.leftParen {
                        q.knownUIDs = try sequenceSet()
                        if consume(ASCII.space) { q.sequenceMatch = try sequenceMatchData() }
                    } else {
                        q.sequenceMatch = try sequenceMatchData()
                    }
                }
                try expect(ASCII.rightParen, "\")\" of QRESYNC parameters")
                params.append(.qresync(q))
            default:
                throw GrammarError(message: "unknown SELECT parameter \(Self.printable(Array(name.utf8)))")
            }
        } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of SELECT parameters")
        return params
    }

    mutating func sequenceMatchData() throws(GrammarError) -> QResyncParameters.SequenceMatch {
        try expect(ASCII.leftParen, "\"(\" of sequence match data")
        let seqs = try sequenceSet()
        try sp()
        let uids = try sequenceSet()
        try expect(ASCII.rightParen, "\")\" of sequence match data")
        return .init(knownSequenceSet: seqs, knownUIDSet: uids)
    }

    /// ```
    /// create        = "CREATE" SP mailbox [create-params]              ; RFC 4466
    /// create-params = SP "(" create-param *(SP create-param) ")"
    /// create-param  = "USE" SP "(" [use-attr *(SP use-attr)] ")"      ; RFC 6154 §6
    /// use-attr      = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" / "\Sent" /
    ///                 "\Trash" / use-attr-ext
    /// use-attr-ext  = "\" atom
    /// ```
    mutating func createParameters() throws(GrammarError) -> [MailboxAttribute] {
        guard consume(ASCII.space) else { return [] }
        try expect(ASCII.leftParen, "\"(\" of CREATE parameters")
        var attrs: [MailboxAttribute] = []
        repeat {
            let name = try keyword("CREATE parameter")
            guard name == "USE" else {
                throw GrammarError(message: "unknown CREATE parameter \(Self.printable(Array(name.utf8)))")
            }
            try sp()
            try expect(ASCII.leftParen, "\"(\" of USE list")
            if !consume(ASCII.rightParen) {
                repeat {
                    try expect(ASCII.backslash, "special-use attribute")
                    attrs.append(MailboxAttribute(Self.utf8(Array(try atom("special-use attribute")))))
                } while consume(ASCII.space)
                try expect(ASCII.rightParen, "\")\" of USE list")
            }
        } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of CREATE parameters")
        return attrs
    }

    /// ```
    /// list             = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    ///                    [SP list-return-opts]                          ; RFC 5258 §6
    /// list-select-opts = "(" [(*(list-select-mod-opt SP) list-select-base-opt
    ///                    *(SP list-select-opt)) / (list-select-independent-opt
    ///                    *(SP list-select-independent-opt))] ")"
    /// mbox-or-pat      = list-mailbox / patterns
    /// patterns         = "(" list-mailbox *(SP list-mailbox) ")"
    /// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
    /// return-option    = "SUBSCRIBED" / "CHILDREN" / status-option / "SPECIAL-USE"
    /// status-option    = "STATUS" SP "(" status-att *(SP status-att) ")"  ; RFC 5819
    /// ```
    mutating func list() throws(GrammarError) -> ListCommand {
        var selection: [ListSelectionOption] = []
        if consume(ASCII.leftParen) {
            if !consume(ASCII.rightParen) {
                repeat {
                    switch try keyword("LIST selection option") {
                    case "SUBSCRIBED": selection.append(.subscribed)
                    case "REMOTE": selection.append(.remote)
                    case "RECURSIVEMATCH": selection.append(.recursiveMatch)
                    case "SPECIAL-USE": selection.append(.specialUse)
                    case let other:
                        throw GrammarError(message: "unknown LIST selection option \(Self.printable(Array(other.utf8)))")
                    }
                } while consume(ASCII.space)
                try expect(ASCII.rightParen, "\")\" of LIST selection options")
            }
            // RFC 5258 §3.1: RECURSIVEMATCH needs a base option to modify.
            if selection.contains(.recursiveMatch), !selection.contains(.subscribed), !selection.contains(.specialUse) {
                throw GrammarError(message: "RECURSIVEMATCH requires another selection option")
            }
            try sp()
        }
        let reference = try mailbox()
        try sp()
        var patterns: [IMAPMailboxName] = []
        if consume(ASCII.leftParen) {
            repeat { patterns.append(try listMailbox()) } while consume(ASCII.space)
            try expect(ASCII.rightParen, "\")\" of LIST patterns")
        } else {
            patterns.append(try listMailbox())
        }
        var returns: [ListReturnOption] = []
        if consume(ASCII.space) {
            try expectKeyword("RETURN")
            try sp()
            try expect(ASCII.leftParen, "\"(\" of LIST return options")
            if !consume(ASCII.rightParen) {
                repeat {
                    switch try keyword("LIST return option") {
                    case "SUBSCRIBED": returns.append(.subscribed)
                    case "CHILDREN": returns.append(.children)
                    case "SPECIAL-USE": returns.append(.specialUse)
                    case "STATUS":
                        try sp()
                        returns.append(.status(try statusAttributes()))
                    case let other:
                        throw GrammarError(message: "unknown LIST return option \(Self.printable(Array(other.utf8)))")
                    }
                } while consume(ASCII.space)
                try expect(ASCII.rightParen, "\")\" of LIST return options")
            }
        }
        return ListCommand(selectionOptions: selection, reference: reference, patterns: patterns, returnOptions: returns)
    }

    /// `"(" status-att *(SP status-att) ")"`
    mutating func statusAttributes() throws(GrammarError) -> [StatusAttribute] {
        try expect(ASCII.leftParen, "\"(\" of status items")
        var items: [StatusAttribute] = []
        repeat {
            let name = try keyword("status item")
            guard let item = StatusAttribute(rawValue: name) else {
                throw GrammarError(message: "unknown status item \(Self.printable(Array(name.utf8)))")
            }
            items.append(item)
        } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of status items")
        return items
    }

    /// ```
    /// append         = "APPEND" SP mailbox 1*append-message            ; RFC 3502
    /// append-message = append-opts SP append-data
    /// append-opts    = [SP flag-list] [SP date-time]
    /// append-data    = literal / literal8 / utf8-literal               ; RFC 3516, RFC 6855
    /// utf8-literal   = "UTF8" SP "(" literal8 ")"                      ; RFC 6855 §4
    /// ```
    mutating func append() throws(GrammarError) -> IMAPCommand {
        let mailbox = try self.mailbox()
        var messages: [AppendMessage] = []
        repeat {
            try sp()
            var flags: [MessageFlag] = []
            var date: IMAPDateTime?
            if peek() == ASCII.leftParen {
                flags = try flagList()
                try sp()
            }
            if peek() == ASCII.dquote {
                date = try dateTime()
                try sp()
            }
            let r: Range<Int>, binary: Bool
            if peek() == UInt8(ascii: "U") || peek() == UInt8(ascii: "u") {
                // RFC 6855 §4 (UTF8=ACCEPT), the form Thunderbird uses for Sent and Drafts:
                // utf8-literal = "UTF8" SP "(" literal8 ")"
                try expectKeyword("UTF8")
                try sp()
                try expect(ASCII.leftParen, "\"(\" of UTF8 message data")
                guard peek() == ASCII.tilde else { throw expected("literal8 (~{n}) in UTF8 message data") }
                (r, binary) = try literal(allowBinary: true)
                try expect(ASCII.rightParen, "\")\" of UTF8 message data")
            } else {
                guard peek() == ASCII.leftBrace || peek() == ASCII.tilde else {
                    throw expected("message literal")
                }
                (r, binary) = try literal(allowBinary: true)
            }
            messages.append(AppendMessage(flags: flags, internalDate: date,
                                          data: materialize ? Array(bytes[r]) : [], isBinary: binary))
        } while !atEnd
        return .append(mailbox, messages: messages)
    }

    // MARK: - SEARCH

    /// ```
    /// search             = "SEARCH" [search-return-opts] SP search-program
    /// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
    /// search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"     ; RFC 4731, RFC 5182
    /// search-program     = ["CHARSET" SP charset SP] search-key *(SP search-key)
    /// charset            = atom / quoted
    /// ```
    mutating func search() throws(GrammarError) -> SearchCommand {
        try sp()
        var command = SearchCommand(key: .all)
        if peekKeyword("RETURN") {
            try expectKeyword("RETURN")
            try sp()
            try expect(ASCII.leftParen, "\"(\" of SEARCH return options")
            var options: [SearchReturnOption] = []
            if !consume(ASCII.rightParen) {
                repeat {
                    switch try keyword("SEARCH return option") {
                    case "MIN": options.append(.min)
                    case "MAX": options.append(.max)
                    case "ALL": options.append(.all)
                    case "COUNT": options.append(.count)
                    case "SAVE": options.append(.save)
                    case let other:
                        throw GrammarError(message: "unknown SEARCH return option \(Self.printable(Array(other.utf8)))")
                    }
                } while consume(ASCII.space)
                try expect(ASCII.rightParen, "\")\" of SEARCH return options")
            }
            command.returnOptions = options
            try sp()
        }
        if peekKeyword("CHARSET") {
            try expectKeyword("CHARSET")
            try sp()
            let charset = peek() == ASCII.dquote ? try quoted() : Array(try atom("charset"))
            command.charset = ASCII.uppercased(charset)
            try sp()
        }
        var keys = [try searchKey()]
        while consume(ASCII.space) { keys.append(try searchKey()) }
        command.key = keys.count == 1 ? keys[0] : .and(keys)
        return command
    }

    /// ```
    /// ; RFC 5256 §5, RFC 5957 §4
    /// sort            = ["UID" SP] "SORT" SP sort-criteria SP search-criteria
    /// sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
    /// sort-criterion  = ["REVERSE" SP] sort-key
    /// sort-key        = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"
    ///                   / "DISPLAYFROM" / "DISPLAYTO"
    /// search-criteria = charset 1*(SP search-key)     ; the charset is required here
    /// ```
    mutating func sort(uid: Bool) throws(GrammarError) -> IMAPCommand {
        try sp()
        try expect(ASCII.leftParen, "\"(\" of SORT criteria")
        var criteria: [SortCriterion] = []
        repeat {
            var word = try keyword("sort key")
            var reverse = false
            if word == "REVERSE" {
                reverse = true
                try sp()
                word = try keyword("sort key")
            }
            guard let key = SortCriterion.Key(rawValue: word) else {
                throw GrammarError(message: "unknown sort key \(Self.printable(Array(word.utf8)))")
            }
            criteria.append(SortCriterion(key, reverse: reverse))
        } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of SORT criteria")
        try sp()
        let charset = peek() == ASCII.dquote ? try quoted() : Array(try atom("charset"))
        var command = SearchCommand(charset: ASCII.uppercased(charset), key: .all)
        try sp()
        var keys = [try searchKey()]
        while consume(ASCII.space) { keys.append(try searchKey()) }
        command.key = keys.count == 1 ? keys[0] : .and(keys)
        return .sort(criteria, command, uid: uid)
    }

    /// Whether the next atom is `kw` (case-insensitively), without consuming it.
    func peekKeyword(_ kw: StaticString) -> Bool {
        var j = i
        while j < end, ASCII.isAtomChar(bytes[j]) { j += 1 }
        return ASCII.equalsKeyword(bytes[i..<j], kw)
    }

    /// See ``SearchKey`` for the production.
    mutating func searchKey() throws(GrammarError) -> SearchKey {
        try enterNesting()
        defer { depth -= 1 }
        guard let first = peek() else { throw expected("search key") }
        if first == ASCII.leftParen {
            i += 1
            var keys = [try searchKey()]
            while consume(ASCII.space) { keys.append(try searchKey()) }
            try expect(ASCII.rightParen, "\")\" of search key list")
            return .and(keys)
        }
        if ASCII.isDigit(first) || first == ASCII.star || first == ASCII.dollar {
            return .sequenceSet(try sequenceSet())
        }
        let start = i
        let name = try keyword("search key")
        switch name {
        case "ALL": return .all
        case "ANSWERED": return .answered
        case "DELETED": return .deleted
        case "DRAFT": return .draft
        case "FLAGGED": return .flagged
        case "NEW": return .new
        case "OLD": return .old
        case "RECENT": return .recent
        case "SEEN": return .seen
        case "UNANSWERED": return .unanswered
        case "UNDELETED": return .undeleted
        case "UNDRAFT": return .undraft
        case "UNFLAGGED": return .unflagged
        case "UNSEEN": return .unseen
        case "BCC": return .bcc(try searchString())
        case "BODY": return .body(try searchString())
        case "CC": return .cc(try searchString())
        case "FROM": return .from(try searchString())
        case "SUBJECT": return .subject(try searchString())
        case "TEXT": return .text(try searchString())
        case "TO": return .to(try searchString())
        case "BEFORE": return .before(try searchDate())
        case "ON": return .on(try searchDate())
        case "SINCE": return .since(try searchDate())
        case "SENTBEFORE": return .sentBefore(try searchDate())
        case "SENTON": return .sentOn(try searchDate())
        case "SENTSINCE": return .sentSince(try searchDate())
        case "KEYWORD", "UNKEYWORD":
            try sp()
            let flag = MessageFlag.keyword(Self.utf8(Array(try atom("keyword"))))
            return name == "KEYWORD" ? .keyword(flag) : .unkeyword(flag)
        case "HEADER":
            try sp()
            let field = Self.utf8(try astring("header field name"))
            try sp()
            return .header(field: field, value: try astring("header value"))
        case "LARGER", "SMALLER":
            try sp()
            let n = try number("size", max: Self.maxNumber64)
            return name == "LARGER" ? .larger(n) : .smaller(n)
        case "NOT":
            try sp()
            return .not(try searchKey())
        case "OR":
            try sp()
            let a = try searchKey()
            try sp()
            return .or(a, try searchKey())
        case "UID":
            try sp()
            return .uid(try sequenceSet())
        case "MODSEQ":
            // search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
            // search-modseq-ext  = SP entry-name SP entry-type-req        ; RFC 7162 §7
            try sp()
            var entry: SearchKey.ModSeqEntry?
            if peek() == ASCII.dquote {
                let nameBytes = try quoted()
                let prefix = Array("/flags/".utf8)
                guard nameBytes.count > prefix.count,
                      nameBytes[0..<prefix.count].map(ASCII.upper) == prefix.map(ASCII.upper)
                else { throw GrammarError(message: "MODSEQ entry name must be \"/flags/<flag>\"") }
                let flagText = Self.utf8(Array(nameBytes[prefix.count...]))
                guard let flag = MessageFlag(flagText), flag != .wildcard else {
                    throw GrammarError(message: "invalid flag in MODSEQ entry name")
                }
                try sp()
                guard let type = SearchKey.ModSeqEntry.EntryType(rawValue: (try keyword("entry type")).lowercased()) else {
                    throw GrammarError(message: "MODSEQ entry type must be priv, shared or all")
                }
                entry = .init(flag: flag, type: type)
                try sp()
            }
            return .modSeq(try modSequenceValzer(), entry: entry)
        case "OLDER", "YOUNGER":
            try sp()
            let n = try nzNumber("interval")
            return name == "OLDER" ? .older(n) : .younger(n)
        default:
            i = start
            throw GrammarError(message: "unknown search key at \(excerpt())")
        }
    }

    mutating func searchString() throws(GrammarError) -> [UInt8] {
        try sp()
        return try astring("search string")
    }

    mutating func searchDate() throws(GrammarError) -> IMAPDate {
        try sp()
        return try date()
    }

    // MARK: - FETCH

    /// ```
    /// fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    ///                   "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
    /// fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"   ; RFC 4466
    /// fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"  ; RFC 7162
    /// ```
    mutating func fetch(uid: Bool) throws(GrammarError) -> IMAPCommand {
        try sp()
        let set = try sequenceSet()
        try sp()
        var attributes: [FetchAttribute] = []
        if consume(ASCII.leftParen) {
            repeat { attributes += try fetchAttribute() } while consume(ASCII.space)
            try expect(ASCII.rightParen, "\")\" of FETCH items")
        } else {
            attributes = try fetchAttribute()
        }
        var modifiers: [FetchModifier] = []
        if consume(ASCII.space) {
            try expect(ASCII.leftParen, "\"(\" of FETCH modifiers")
            repeat {
                switch try keyword("FETCH modifier") {
                case "CHANGEDSINCE":
                    try sp()
                    modifiers.append(.changedSince(try modSequenceValue()))
                case "VANISHED":
                    modifiers.append(.vanished)
                case let other:
                    throw GrammarError(message: "unknown FETCH modifier \(Self.printable(Array(other.utf8)))")
                }
            } while consume(ASCII.space)
            try expect(ASCII.rightParen, "\")\" of FETCH modifiers")
            // RFC 7162 §3.2.6: VANISHED needs UID FETCH and CHANGEDSINCE.
            if modifiers.contains(.vanished) {
                guard uid, modifiers.contains(where: { if case .changedSince = $0 { true } else { false } }) else {
                    throw GrammarError(message: "VANISHED requires UID FETCH with CHANGEDSINCE")
                }
            }
        }
        return .fetch(set, attributes: attributes, modifiers: modifiers, uid: uid)
    }

    /// One `fetch-att` (or a macro, expanded). See ``FetchAttribute`` for the production.
    mutating func fetchAttribute() throws(GrammarError) -> [FetchAttribute] {
        let start = i
        let name = try keyword("FETCH item", stoppingAt: ASCII.leftBracket)
        switch name {
        case "ALL": return FetchAttribute.all
        case "FAST": return FetchAttribute.fast
        case "FULL": return FetchAttribute.full
        case "ENVELOPE": return [.envelope]
        case "FLAGS": return [.flags]
        case "INTERNALDATE": return [.internalDate]
        case "RFC822": return [.rfc822]
        case "RFC822.HEADER": return [.rfc822Header]
        case "RFC822.SIZE": return [.rfc822Size]
        case "PREVIEW":
            // fetch-att   =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]
            // preview-mod =  "LAZY"                      (RFC 8970 §7)
            guard peek() == ASCII.space, i + 1 < end, bytes[i + 1] == ASCII.leftParen else { return [.preview(lazy: false)] }
            try sp()
            try expect(ASCII.leftParen, "\"(\" of preview modifiers")
            repeat { try expectKeyword("LAZY") } while consume(ASCII.space)
            try expect(ASCII.rightParen, "\")\" of preview modifiers")
            return [.preview(lazy: true)]
        case "RFC822.TEXT": return [.rfc822Text]
        case "BODYSTRUCTURE": return [.bodyStructure]
        case "UID": return [.uid]
        case "MODSEQ": return [.modSeq]
        case "BODY", "BODY.PEEK":
            if name == "BODY", peek() != ASCII.leftBracket { return [.bodyStructureNonExtensible] }
            let section = try self.section()
            return [.bodySection(section, partial: try partial(), peek: name == "BODY.PEEK")]
        case "BINARY", "BINARY.PEEK":
            let part = try binarySection()
            return [.binary(part: part, partial: try partial(), peek: name == "BINARY.PEEK")]
        case "BINARY.SIZE":
            return [.binarySize(part: try binarySection())]
        default:
            i = start
            throw GrammarError(message: "unknown FETCH item at \(excerpt())")
        }
    }

    /// See ``SectionSpec`` for the production.
    mutating func section() throws(GrammarError) -> SectionSpec {
        try expect(ASCII.leftBracket, "\"[\" of section")
        var spec = SectionSpec()
        if consume(ASCII.rightBracket) { return spec }
        while true {
            if let b = peek(), ASCII.isDigit(b) {
                spec.part.append(try nzNumber("section part number"))
                if spec.part.count > limits.maxNestingDepth {
                    throw GrammarError(message: "section part is nested deeper than \(limits.maxNestingDepth) levels")
                }
                if consume(ASCII.dot) { continue }
                break
            }
            let start = i
            let text = try keyword("section text")
            switch text {
            case "HEADER": spec.text = .header
            case "TEXT": spec.text = .text
            case "MIME":
                guard !spec.part.isEmpty else { i = start; throw GrammarError(message: "MIME is only valid after a part number") }
                spec.text = .mime
            case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
                try sp()
                let names = try headerList()
                spec.text = text == "HEADER.FIELDS" ? .headerFields(names) : .headerFieldsNot(names)
            default:
                i = start
                throw GrammarError(message: "unknown section text at \(excerpt())")
            }
            break
        }
        try expect(ASCII.rightBracket, "\"]\" of section")
        return spec
    }

    /// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`, `header-fld-name = astring`
    mutating func headerList() throws(GrammarError) -> [String] {
        try expect(ASCII.leftParen, "\"(\" of header list")
        var names: [String] = []
        repeat { names.append(Self.utf8(try astring("header field name"))) } while consume(ASCII.space)
        try expect(ASCII.rightParen, "\")\" of header list")
        return names
    }

    /// `section-binary = "[" [section-part] "]"` (RFC 3516 §6)
    mutating func binarySection() throws(GrammarError) -> [UInt32] {
        try expect(ASCII.leftBracket, "\"[\" of binary section")
        var part: [UInt32] = []
        if !consume(ASCII.rightBracket) {
            repeat {
                part.append(try nzNumber("section part number"))
                if part.count > limits.maxNestingDepth {
                    throw GrammarError(message: "section part is nested deeper than \(limits.maxNestingDepth) levels")
                }
            } while consume(ASCII.dot)
            try expect(ASCII.rightBracket, "\"]\" of binary section")
        }
        return part
    }

    /// `partial = "<" number64 "." nz-number64 ">"`
    mutating func partial() throws(GrammarError) -> FetchPartial? {
        guard consume(ASCII.lessThan) else { return nil }
        let offset = try number("partial offset", max: Self.maxNumber64)
        try expect(ASCII.dot, "\".\" in partial range")
        let length = try number("partial length", max: Self.maxNumber64)
        guard length > 0 else { throw GrammarError(message: "partial length must not be 0") }
        try expect(ASCII.greaterThan, "\">\" of partial range")
        return FetchPartial(offset: offset, length: length)
    }

    // MARK: - STORE, COPY, MOVE

    /// ```
    /// store           = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    /// store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"     ; RFC 4466
    /// store-modifier  = "UNCHANGEDSINCE" SP mod-sequence-valzer            ; RFC 7162
    /// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    /// ```
    mutating func store(uid: Bool) throws(GrammarError) -> IMAPCommand {
        try sp()
        let set = try sequenceSet()
        try sp()
        var unchangedSince: UInt64?
        if consume(ASCII.leftParen) {
            repeat {
                let name = try keyword("STORE modifier")
                guard name == "UNCHANGEDSINCE" else {
                    throw GrammarError(message: "unknown STORE modifier \(Self.printable(Array(name.utf8)))")
                }
                try sp()
                unchangedSince = try modSequenceValzer()
            } while consume(ASCII.space)
            try expect(ASCII.rightParen, "\")\" of STORE modifiers")
            try sp()
        }
        let start = i
        let item = try keyword("FLAGS, +FLAGS or -FLAGS")
        var action: StoreAction
        switch item {
        case "FLAGS": action = StoreAction(operation: .replace, flags: [])
        case "FLAGS.SILENT": action = StoreAction(operation: .replace, silent: true, flags: [])
        case "+FLAGS": action = StoreAction(operation: .add, flags: [])
        case "+FLAGS.SILENT": action = StoreAction(operation: .add, silent: true, flags: [])
        case "-FLAGS": action = StoreAction(operation: .remove, flags: [])
        case "-FLAGS.SILENT": action = StoreAction(operation: .remove, silent: true, flags: [])
        default:
            i = start
            throw expected("FLAGS, +FLAGS or -FLAGS")
        }
        try sp()
        if peek() == ASCII.leftParen {
            action.flags = try flagList()
        } else {
            repeat { action.flags.append(try flag()) } while consume(ASCII.space)
        }
        return .store(set, unchangedSince: unchangedSince, action, uid: uid)
    }

    /// ```
    /// copy = "COPY" SP sequence-set SP mailbox
    /// move = "MOVE" SP sequence-set SP mailbox                            ; RFC 6851
    /// ```
    mutating func copyOrMove(_ name: String, uid: Bool) throws(GrammarError) -> IMAPCommand {
        try sp()
        let set = try sequenceSet()
        try sp()
        let mailbox = try self.mailbox()
        return name == "COPY" ? .copy(set, mailbox, uid: uid) : .move(set, mailbox, uid: uid)
    }
}
