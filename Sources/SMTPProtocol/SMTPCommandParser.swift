import LineFraming

/// SMTP/LMTP command lines (RFC 5321 §4.1, RFC 2033 §4) and the SASL response lines that
/// follow a `334` challenge (RFC 4954 §4), framed by the shared `LineCommandParser`.
///
/// Framing rules (DESIGN.md §4, SMTP smuggling and bounded everything):
/// - a line ends in CRLF; a line ending in a bare LF, or holding a bare CR, is consumed and
///   answered with `500 5.5.2`;
/// - a line longer than the configured limit (CRLF included) is consumed and discarded up to
///   and including its LF, and answered with `500 5.5.6`.
public typealias SMTPCommandParser = LineCommandParser<SMTPGrammar>

/// The words of SMTP and LMTP commands.
public enum SMTPGrammar: LineGrammar {
    public static let lineEnd = LineFramer.LineEnd.crlf
    public static let minimumCommandLineLength = SMTPLimits.rfcMinimumCommandLineLength
    public static let defaultMaxCommandLineLength = SMTPLimits.maxCommandLineLength
    public static let defaultMaxAuthLineLength = SMTPLimits.maxAuthLineLength
    public static let invalidBase64 = SMTPReply.invalidBase64

    public static func reply(for error: LineFramer.LineError, saslResponse: Bool) -> SMTPReply {
        switch error {
        // RFC 5321 §4.5.3.1.4; RFC 4954 §4 for SASL responses.
        case .tooLong: saslResponse ? .authLineTooLong : .lineTooLong
        // RFC 5321 §2.3.8: lines end in CRLF; anything else is how smuggling starts.
        case .bareLineFeed: .bareLineFeedInCommand
        case .bareCarriageReturn: .bareCarriageReturnInCommand
        }
    }

    public static func parseCommandLine(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> LineParseResult<SMTPCommand, SMTPReply> {
        switch parseLineContent(p, range) {
        case .success(let command): .command(command)
        case .failure(let error): .error(error.reply)
        }
    }

    // MARK: Grammar

    typealias LineResult = Swift.Result<SMTPCommand, SMTPSyntaxError>

    static func parseLineContent(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> LineResult {
        // Trailing white space is tolerated (many clients send "DATA " or "QUIT\t").
        var end = range.upperBound
        while end > range.lowerBound, p[end - 1] == ASCIIByte.sp || p[end - 1] == ASCIIByte.ht { end -= 1 }

        // command = verb [SP arguments]; verbs are case-insensitive (RFC 5321 §2.4).
        var i = range.lowerBound
        while i < end, p[i] != ASCIIByte.sp { i += 1 }
        let verbRange = range.lowerBound..<i
        guard !verbRange.isEmpty, verbRange.count <= 8, verbRange.allSatisfy({ ASCIIByte.isAlpha(p[$0]) }) else {
            return .failure(SMTPSyntaxError(.commandUnrecognized))
        }
        let verb = String(decoding: verbRange.map { ASCIIByte.upper(p[$0]) }, as: UTF8.self)
        // Arguments start after one or more SP (extra spaces tolerated).
        var argStart = i
        while argStart < end, p[argStart] == ASCIIByte.sp { argStart += 1 }
        let args = argStart..<end
        let hasArgs = !args.isEmpty

        func noArguments(_ command: SMTPCommand) -> LineResult {
            hasArgs ? .failure(SMTPSyntaxError(.syntaxErrorInParameters)) : .success(command)
        }

        switch verb {
        case "EHLO", "HELO", "LHLO":
            // ehlo = "EHLO" SP ( Domain / address-literal ) CRLF  (RFC 5321 §4.1.1.1)
            // Not validated as a domain (clients send all sorts); one printable token.
            guard hasArgs, args.allSatisfy({ p[$0] > ASCIIByte.sp && p[$0] != 0x7F }),
                  let name = p.validatedString(args)
            else { return .failure(SMTPSyntaxError(.syntaxErrorInParameters("Syntax: \(verb) hostname"))) }
            switch verb {
            case "EHLO": return .success(.ehlo(name))
            case "HELO": return .success(.helo(name))
            default: return .success(.lhlo(name))
            }
        case "MAIL":
            // mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF  (RFC 5321 §4.1.1.2)
            return parseMailOrRcpt(p, args, isMail: true)
        case "RCPT":
            // rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
            //        [SP Rcpt-parameters] CRLF  (RFC 5321 §4.1.1.3)
            return parseMailOrRcpt(p, args, isMail: false)
        case "DATA": return noArguments(.data)
        case "RSET": return noArguments(.rset)
        case "QUIT": return noArguments(.quit)
        case "STARTTLS": return noArguments(.starttls)  // RFC 3207 §4: "501 Syntax error (no parameters allowed)"
        case "NOOP":
            // noop = "NOOP" [ SP String ] CRLF — the argument is ignored (RFC 5321 §4.1.1.9).
            return .success(.noop)
        case "HELP":
            // help = "HELP" [ SP String ] CRLF  (RFC 5321 §4.1.1.8)
            guard hasArgs else { return .success(.help(nil)) }
            guard let text = printableText(p, args) else { return .failure(SMTPSyntaxError(.syntaxErrorInParameters)) }
            return .success(.help(text))
        case "VRFY", "EXPN":
            // vrfy = "VRFY" SP String CRLF; expn = "EXPN" SP String CRLF  (RFC 5321 §4.1.1.6-7)
            guard hasArgs, let text = printableText(p, args) else {
                return .failure(SMTPSyntaxError(.syntaxErrorInParameters))
            }
            return .success(verb == "VRFY" ? .vrfy(text) : .expn(text))
        case "BDAT":
            return parseBDAT(p, args)
        case "AUTH":
            return parseAuth(p, args)
        default:
            return .failure(SMTPSyntaxError(.commandUnrecognized))
        }
    }

    /// Text of an argument: valid UTF-8, no control characters except HT.
    private static func printableText(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
        for i in range {
            let b = p[i]
            if (b < ASCIIByte.sp && b != ASCIIByte.ht) || b == 0x7F { return nil }
        }
        return p.validatedString(range)
    }

    private static func parseMailOrRcpt(_ p: UnsafeBufferPointer<UInt8>, _ args: Range<Int>, isMail: Bool) -> LineResult {
        let prefix: StaticString = isMail ? "FROM:" : "TO:"
        let prefixLength = prefix.utf8CodeUnitCount
        let syntax = SMTPReply.syntaxErrorInParameters(isMail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>")
        let badPath = isMail ? SMTPReply.badSenderSyntax : .badRecipientSyntax
        guard args.count >= prefixLength,
              p.equalsUppercased(args.lowerBound..<(args.lowerBound + prefixLength), prefix)
        else { return .failure(SMTPSyntaxError(syntax)) }
        var i = args.lowerBound + prefixLength
        // "MAIL FROM: <a@b>" is common in the wild; tolerate spaces after the colon.
        while i < args.upperBound, p[i] == ASCIIByte.sp { i += 1 }
        guard let (path, afterPath) = parsePath(p, i, args.upperBound) else {
            return .failure(SMTPSyntaxError(badPath))
        }
        if !isMail && path.isEmpty { return .failure(SMTPSyntaxError(badPath)) }  // Forward-path = Path
        switch parseParameters(p, afterPath, args.upperBound) {
        case .failure(let error): return .failure(error)
        case .success(let parameters):
            return .success(isMail ? .mail(reversePath: path, parameters: parameters)
                                   : .rcpt(forwardPath: path, parameters: parameters))
        }
    }

    /// RFC 5321 §4.1.2, with UTF-8 allowed (RFC 6531 §3.3):
    ///
    ///     Reverse-path   = Path / "<>"
    ///     Path           = "<" [ A-d-l ":" ] Mailbox ">"
    ///     A-d-l          = At-domain *( "," At-domain )
    ///     At-domain      = "@" Domain
    ///     Mailbox        = Local-part "@" ( Domain / address-literal )
    ///     Local-part     = Dot-string / Quoted-string
    ///     Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
    ///     QcontentSMTP   = qtextSMTP / quoted-pairSMTP
    ///     quoted-pairSMTP = %d92 %d32-126
    ///
    /// Returns the mailbox text (source route removed, quoting kept) and the index after `>`.
    /// The mailbox itself is not validated beyond the characters that may appear in it.
    static func parsePath(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (String, Int)? {
        guard start < end, p[start] == 0x3C else { return nil }  // "<"
        var i = start + 1
        guard i < end else { return nil }
        if p[i] == 0x3E { return ("", i + 1) }  // "<>"
        if p[i] == 0x40 {  // "@": an obsolete source route, RFC 5321 §4.1.2 / Appendix C; stripped
            var expectAt = true
            var domainLength = 0
            while true {
                guard i < end else { return nil }
                let b = p[i]
                if expectAt {
                    guard b == 0x40 else { return nil }
                    expectAt = false
                    domainLength = 0
                } else if b == 0x2C || b == 0x3A {  // "," or ":"
                    guard domainLength > 0 else { return nil }
                    if b == 0x3A { i += 1; break }
                    expectAt = true
                } else {
                    guard ASCIIByte.isAlpha(b) || ASCIIByte.isDigit(b) || b == 0x2D || b == ASCIIByte.dot || b >= 0x80 else { return nil }
                    domainLength += 1
                }
                i += 1
            }
        }
        let mailboxStart = i
        // Local-part is never empty, so a mailbox cannot start with "@" (RFC 5321 §4.1.2).
        guard i < end, p[i] != 0x40 else { return nil }
        var inQuotes = false
        while true {
            guard i < end else { return nil }
            let b = p[i]
            if b < ASCIIByte.sp || b == 0x7F { return nil }
            if inQuotes {
                if b == 0x5C {  // quoted-pairSMTP
                    guard i + 1 < end, p[i + 1] >= ASCIIByte.sp, p[i + 1] != 0x7F else { return nil }
                    i += 2
                    continue
                }
                if b == 0x22 { inQuotes = false }
            } else {
                if b == 0x3E { break }  // ">" outside quotes ends the path
                if b == 0x22 {
                    inQuotes = true
                } else if b == ASCIIByte.sp || b == 0x3C {
                    return nil
                }
            }
            i += 1
        }
        guard i > mailboxStart, let mailbox = p.validatedString(mailboxStart..<i) else { return nil }
        return (mailbox, i + 1)
    }

    /// RFC 5321 §4.1.2 (RFC 6531 §3.3 adds UTF-8 to values):
    ///
    ///     Mail-parameters  = esmtp-param *(SP esmtp-param)
    ///     esmtp-param      = esmtp-keyword ["=" esmtp-value]
    ///     esmtp-keyword    = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    ///     esmtp-value      = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)
    static func parseParameters(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> Swift.Result<[ESMTPParameter], SMTPSyntaxError>
    {
        var parameters: [ESMTPParameter] = []
        var i = start
        while i < end {
            guard p[i] == ASCIIByte.sp else { return .failure(SMTPSyntaxError(.syntaxErrorInParameters)) }
            while i < end, p[i] == ASCIIByte.sp { i += 1 }  // extra spaces tolerated
            if i == end { break }
            let keywordStart = i
            guard ASCIIByte.isAlpha(p[i]) || ASCIIByte.isDigit(p[i]) else { return .failure(SMTPSyntaxError(.syntaxErrorInParameters)) }
            i += 1
            while i < end, ASCIIByte.isAlpha(p[i]) || ASCIIByte.isDigit(p[i]) || p[i] == 0x2D { i += 1 }
            let keyword = String(decoding: (keywordStart..<i).map { ASCIIByte.upper(p[$0]) }, as: UTF8.self)
            var value: String?
            if i < end, p[i] == 0x3D {  // "="
                i += 1
                let valueStart = i
                while i < end, p[i] != ASCIIByte.sp {
                    let b = p[i]
                    guard (b >= 33 && b <= 126 && b != 0x3D) || b >= 0x80 else {
                        return .failure(SMTPSyntaxError(.syntaxErrorInParameters))
                    }
                    i += 1
                }
                guard i > valueStart, let v = p.validatedString(valueStart..<i) else {
                    return .failure(SMTPSyntaxError(.syntaxErrorInParameters))
                }
                value = v
            } else if i < end, p[i] != ASCIIByte.sp {
                return .failure(SMTPSyntaxError(.syntaxErrorInParameters))
            }
            if parameters.contains(where: { $0.keyword == keyword }) {
                return .failure(SMTPSyntaxError(.duplicateParameter))
            }
            parameters.append(ESMTPParameter(keyword: keyword, value: value))
        }
        return .success(parameters)
    }

    /// RFC 3030 §2:
    ///
    ///     bdat-cmd   ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF
    ///     chunk-size ::= 1*DIGIT
    ///     end-marker ::= "LAST"
    ///
    /// A malformed BDAT leaves the server unable to tell how many octets follow; the session
    /// should close the connection after answering it.
    static func parseBDAT(_ p: UnsafeBufferPointer<UInt8>, _ args: Range<Int>) -> LineResult {
        var i = args.lowerBound
        var size = 0
        while i < args.upperBound, ASCIIByte.isDigit(p[i]) {
            guard i - args.lowerBound < SMTPLimits.maxBDATSizeDigits else {
                return .failure(SMTPSyntaxError(.syntaxErrorInParameters("BDAT chunk size too large")))
            }
            size = size * 10 + Int(p[i] - 0x30)
            i += 1
        }
        let syntax = SMTPSyntaxError(.syntaxErrorInParameters("Syntax: BDAT size [LAST]"))
        guard i > args.lowerBound else { return .failure(syntax) }
        if i == args.upperBound { return .success(.bdat(size: size, last: false)) }
        guard p[i] == ASCIIByte.sp else { return .failure(syntax) }
        while i < args.upperBound, p[i] == ASCIIByte.sp { i += 1 }
        guard p.equalsUppercased(i..<args.upperBound, "LAST") else { return .failure(syntax) }
        return .success(.bdat(size: size, last: true))
    }

    /// RFC 4954 §4, RFC 4422 §3.1:
    ///
    ///     auth-command     = "AUTH" SP sasl-mech [SP initial-response]
    ///     sasl-mech        = 1*20mech-char
    ///     mech-char        = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    ///     initial-response = base64 / "="
    ///
    /// Mechanism names are accepted in any case and uppercased.
    static func parseAuth(_ p: UnsafeBufferPointer<UInt8>, _ args: Range<Int>) -> LineResult {
        var i = args.lowerBound
        while i < args.upperBound, p[i] != ASCIIByte.sp { i += 1 }
        let mech = args.lowerBound..<i
        guard !mech.isEmpty, mech.count <= SMTPLimits.maxSASLMechanismLength,
              mech.allSatisfy({ ASCIIByte.isAlpha(p[$0]) || ASCIIByte.isDigit(p[$0]) || p[$0] == 0x2D || p[$0] == 0x5F })
        else { return .failure(SMTPSyntaxError(.syntaxErrorInParameters("Syntax: AUTH mechanism [initial-response]"))) }
        let mechanism = String(decoding: mech.map { ASCIIByte.upper(p[$0]) }, as: UTF8.self)
        while i < args.upperBound, p[i] == ASCIIByte.sp { i += 1 }
        let response = i..<args.upperBound
        if response.isEmpty { return .success(.auth(mechanism: mechanism, initialResponse: nil)) }
        if response.count == 1, p[response.lowerBound] == 0x3D {
            return .success(.auth(mechanism: mechanism, initialResponse: "="))
        }
        guard Base64.decode(UnsafeBufferPointer(rebasing: p[response])) != nil else { return .failure(SMTPSyntaxError(.invalidBase64)) }
        return .success(.auth(mechanism: mechanism, initialResponse: p.asciiString(response)))
    }
}
