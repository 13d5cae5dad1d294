import LineFraming

/// POP3 command lines (RFC 1939 §3, RFC 2449 §3) and the SASL response lines that follow a
/// `+` challenge (RFC 5034 §4), framed by the shared `LineCommandParser`.
///
/// Framing rules (DESIGN.md §4, bounded everything):
/// - a line ends in CRLF. A line ending in a bare LF is accepted as well, as Dovecot and
///   Courier accept it: POP3 relays nothing, so the smuggling argument that makes SMTP strict
///   does not apply, and hand-typed sessions (`nc`) work. A CR anywhere but right before the
///   LF is an error (`-ERR` naming the bare CR);
/// - a line longer than the configured limit (line end included) is consumed and discarded up
///   to and including its LF, and answered with `-ERR Line too long`.
public typealias POP3CommandParser = LineCommandParser<POP3Grammar>

extension LineCommandParser where Grammar == POP3Grammar {
    public typealias Errors = POP3Grammar.Errors
}

/// The words of POP3 commands.
public enum POP3Grammar: LineGrammar {
    public static let lineEnd = LineFramer.LineEnd.crlfOrLF
    /// Room for TOP with two numbers.
    public static let minimumCommandLineLength = 16
    public static let defaultMaxCommandLineLength = POP3Limits.maxCommandLineLength
    public static let defaultMaxAuthLineLength = POP3Limits.maxAuthLineLength
    public static let invalidBase64 = Errors.invalidBase64

    public static func reply(for error: LineFramer.LineError, saslResponse: Bool) -> POP3Response {
        switch error {
        // RFC 2449 §4.
        case .tooLong: saslResponse ? Errors.authLineTooLong : Errors.lineTooLong
        case .bareLineFeed, .bareCarriageReturn: Errors.bareCarriageReturn
        }
    }

    public static func parseCommandLine(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> LineParseResult<POP3Command, POP3Response> {
        switch parseLineContent(p, range) {
        case .success(let command): .command(command)
        case .failure(let error): .error(error.response)
        }
    }

    /// The `-ERR` texts the parser sends, so that tests and the session can name them.
    public enum Errors {
        public static let lineTooLong = POP3Response.error("Line too long")
        public static let authLineTooLong = POP3Response.error("Authentication line too long")
        public static let bareCarriageReturn = POP3Response.error("Bare CR in command line; lines end in CRLF")
        public static let unknownCommand = POP3Response.error("Unknown command")
        public static let emptyCommand = POP3Response.error("Empty command line")
        public static let invalidBase64 = POP3Response.error("Invalid base64 in authentication response")
        public static func syntax(_ usage: String) -> POP3Response { .error("Syntax: \(usage)") }
        public static func noArguments(_ keyword: String) -> POP3Response { .error("\(keyword) takes no arguments") }
        public static func invalidNumber(_ what: String) -> POP3Response { .error("Invalid \(what): expected a number") }
        public static func invalidCharacters(_ keyword: String) -> POP3Response {
            .error("\(keyword): argument contains control characters or invalid UTF-8")
        }
    }

    // MARK: Grammar

    struct SyntaxError: Error {
        let response: POP3Response
        init(_ response: POP3Response) { self.response = response }
    }

    typealias LineResult = Swift.Result<POP3Command, SyntaxError>

    static func parseLineContent(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> LineResult {
        // keyword = 3*4VCHAR, case-insensitive (RFC 1939 §3).
        var i = range.lowerBound
        while i < range.upperBound, p[i] != ASCIIByte.sp, p[i] != ASCIIByte.ht { i += 1 }
        let keywordRange = range.lowerBound..<i
        if keywordRange.isEmpty {
            let blank = range.allSatisfy { p[$0] == ASCIIByte.sp || p[$0] == ASCIIByte.ht }
            return .failure(SyntaxError(blank ? Errors.emptyCommand : Errors.unknownCommand))
        }
        guard keywordRange.count <= 4, keywordRange.allSatisfy({ ASCIIByte.isAlpha(p[$0]) }) else {
            return .failure(SyntaxError(Errors.unknownCommand))
        }
        var keyword: UInt32 = 0
        for k in keywordRange { keyword = keyword << 8 | UInt32(ASCIIByte.upper(p[k])) }
        // Everything after the one SP (or HT) that ends the keyword: PASS takes it verbatim.
        let rest = (i < range.upperBound ? i + 1 : i)..<range.upperBound

        switch keyword {
        case word("USER"):
            // RFC 1939 §7: USER name
            guard let args = split(p, rest), args.count == 1 else { return .failure(SyntaxError(Errors.syntax("USER name"))) }
            guard let name = text(p, args[0], allowTab: false) else { return .failure(SyntaxError(Errors.invalidCharacters("USER"))) }
            return .success(.user(name))
        case word("PASS"):
            // RFC 1939 §7: PASS string — "a POP3 server may treat spaces in the argument as
            // part of the password, instead of as argument separators".
            guard !rest.isEmpty else { return .failure(SyntaxError(Errors.syntax("PASS password"))) }
            guard let password = text(p, rest, allowTab: true) else { return .failure(SyntaxError(Errors.invalidCharacters("PASS"))) }
            return .success(.pass(password))
        case word("APOP"):
            // RFC 1939 §7: APOP name digest
            guard let args = split(p, rest), args.count == 2 else { return .failure(SyntaxError(Errors.syntax("APOP name digest"))) }
            guard let name = text(p, args[0], allowTab: false), let digest = text(p, args[1], allowTab: false) else {
                return .failure(SyntaxError(Errors.invalidCharacters("APOP")))
            }
            return .success(.apop(name: name, digest: digest))
        case word("STAT"): return noArguments(p, rest, "STAT", .stat)
        case word("NOOP"): return noArguments(p, rest, "NOOP", .noop)
        case word("RSET"): return noArguments(p, rest, "RSET", .rset)
        case word("QUIT"): return noArguments(p, rest, "QUIT", .quit)
        case word("CAPA"): return noArguments(p, rest, "CAPA", .capa)
        case word("STLS"): return noArguments(p, rest, "STLS", .stls)  // RFC 2595 §4: no arguments
        case word("LIST"), word("UIDL"):
            // RFC 1939 §5, §7: LIST [msg], UIDL [msg]
            let name = keyword == word("LIST") ? "LIST" : "UIDL"
            guard let args = split(p, rest), args.count <= 1 else { return .failure(SyntaxError(Errors.syntax("\(name) [msg]"))) }
            var number: Int? = nil
            if let arg = args.first {
                guard let n = self.number(p, arg) else { return .failure(SyntaxError(Errors.invalidNumber("message number"))) }
                number = n
            }
            return .success(name == "LIST" ? .list(number) : .uidl(number))
        case word("RETR"), word("DELE"):
            // RFC 1939 §5: RETR msg, DELE msg
            let name = keyword == word("RETR") ? "RETR" : "DELE"
            guard let args = split(p, rest), args.count == 1 else { return .failure(SyntaxError(Errors.syntax("\(name) msg"))) }
            guard let n = number(p, args[0]) else { return .failure(SyntaxError(Errors.invalidNumber("message number"))) }
            return .success(name == "RETR" ? .retr(n) : .dele(n))
        case word("TOP"):
            // RFC 1939 §7: TOP msg n
            guard let args = split(p, rest), args.count == 2 else { return .failure(SyntaxError(Errors.syntax("TOP msg lines"))) }
            guard let n = number(p, args[0]) else { return .failure(SyntaxError(Errors.invalidNumber("message number"))) }
            guard let lines = number(p, args[1]) else { return .failure(SyntaxError(Errors.invalidNumber("line count"))) }
            return .success(.top(n, lines: lines))
        case word("AUTH"):
            return parseAuth(p, rest)
        default:
            return .failure(SyntaxError(Errors.unknownCommand))
        }
    }

    /// A keyword as the big-endian packing of its uppercase letters.
    private static func word(_ s: StaticString) -> UInt32 {
        var v: UInt32 = 0
        let u = s.utf8Start
        for k in 0..<s.utf8CodeUnitCount { v = v << 8 | UInt32(u[k]) }
        return v
    }

    private static func noArguments(_ p: UnsafeBufferPointer<UInt8>, _ rest: Range<Int>, _ keyword: String,
                                    _ command: POP3Command) -> LineResult {
        // Trailing white space is tolerated ("QUIT " from sloppy clients); anything else is not.
        rest.allSatisfy({ p[$0] == ASCIIByte.sp || p[$0] == ASCIIByte.ht })
            ? .success(command) : .failure(SyntaxError(Errors.noArguments(keyword)))
    }

    /// The parameters of `rest`: separated by one or more SP (RFC 1939 says one; more are
    /// tolerated), trailing white space ignored. nil when a parameter is longer than `maxLength`.
    private static func split(_ p: UnsafeBufferPointer<UInt8>, _ rest: Range<Int>,
                              maxLength: Int = POP3Limits.maxParameterLength) -> [Range<Int>]? {
        var end = rest.upperBound
        while end > rest.lowerBound, p[end - 1] == ASCIIByte.sp || p[end - 1] == ASCIIByte.ht { end -= 1 }
        var result: [Range<Int>] = []
        var i = rest.lowerBound
        while i < end {
            while i < end, p[i] == ASCIIByte.sp { i += 1 }
            let start = i
            while i < end, p[i] != ASCIIByte.sp { i += 1 }
            if i > start {
                guard i - start <= maxLength else { return nil }
                result.append(start..<i)
            }
        }
        return result
    }

    /// A parameter as text: valid UTF-8 (RFC 6856 lets UTF-8 logins through), no control
    /// characters (a password may contain HT, which is text to it).
    private static func text(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, allowTab: Bool) -> String? {
        if range.contains(where: { ASCIIByte.isControl(p[$0]) && !(allowTab && p[$0] == ASCIIByte.ht) }) { return nil }
        return p.validatedString(range)
    }

    /// `msg = 1*DIGIT` (RFC 1939 §5), saturating at `Int.max` past `maxExactNumberDigits`.
    private static func number(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.allSatisfy({ ASCIIByte.isDigit(p[$0]) }) else { return nil }
        var value = 0
        var digits = 0
        for i in range {
            if value == 0 && p[i] == 0x30 { continue }  // leading zeros
            digits += 1
            if digits > POP3Limits.maxExactNumberDigits { return Int.max }
            value = value * 10 + Int(p[i] - 0x30)
        }
        return value
    }

    /// RFC 5034 §4, RFC 4422 §3.1:
    ///
    ///     auth-command     = "AUTH" [SP sasl-mech [SP initial-response]]
    ///     sasl-mech        = 1*20mech-char
    ///     mech-char        = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    ///     initial-response = base64 / "="
    ///
    /// Mechanism names are accepted in any case and uppercased; a bare `AUTH` asks for the list.
    static func parseAuth(_ p: UnsafeBufferPointer<UInt8>, _ rest: Range<Int>) -> LineResult {
        let usage = SyntaxError(Errors.syntax("AUTH mechanism [initial-response]"))
        // The initial response is bounded by the AUTH line limit, not by RFC 2449's 255.
        guard let args = split(p, rest, maxLength: Int.max) else { return .failure(usage) }
        guard let mech = args.first else { return .success(.auth(mechanism: nil, initialResponse: nil)) }
        guard args.count <= 2, mech.count <= POP3Limits.maxSASLMechanismLength,
              mech.allSatisfy({ ASCIIByte.isAlpha(p[$0]) || ASCIIByte.isDigit(p[$0]) || p[$0] == 0x2D || p[$0] == 0x5F })
        else { return .failure(usage) }
        let mechanism = String(decoding: mech.map { ASCIIByte.upper(p[$0]) }, as: UTF8.self)
        guard args.count == 2 else { return .success(.auth(mechanism: mechanism, initialResponse: nil)) }
        let response = args[1]
        if response.count == 1, p[response.lowerBound] == 0x3D { return .success(.auth(mechanism: mechanism, initialResponse: "=")) }
        guard Base64.decode(UnsafeBufferPointer(rebasing: p[response])) != nil else { return .failure(SyntaxError(Errors.invalidBase64)) }
        return .success(.auth(mechanism: mechanism, initialResponse: p.asciiString(response)))
    }
}
