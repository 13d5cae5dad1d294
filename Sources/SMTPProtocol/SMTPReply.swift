import LineFraming
/// An enhanced mail system status code, RFC 3463 §2, as sent after the reply code when the
/// ENHANCEDSTATUSCODES extension is offered (RFC 2034 §3).
///
///     status-code = class "." subject "." detail
///     class       = "2" / "4" / "5"
///     subject     = 1*3digit
///     detail      = 1*3digit
public struct EnhancedStatus: Sendable, Hashable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    /// RFC 3463 §3 subject: 0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network,
    /// 5 protocol, 6 content, 7 security.
    public var subject: Int
    /// RFC 3463 §3 detail, 0...999.
    public var detail: Int

    /// `class.subject.detail`; traps on values RFC 3463 does not allow (a programming error).
    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        precondition(statusClass == 2 || statusClass == 4 || statusClass == 5, "RFC 3463 class is 2, 4 or 5")
        precondition((0...999).contains(subject) && (0...999).contains(detail), "RFC 3463 sub-codes have 1 to 3 digits")
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `"5.1.1"`; nil unless the whole text is a status code.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeBufferPointer { EnhancedStatus.parse($0, 0..<$0.count) }
        guard let (status, length) = parsed, length == bytes.count else { return nil }
        self = status
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// Parses a status code at the start of `bytes[range]`; returns it and its length.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> (EnhancedStatus, Int)? {
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        let c = bytes[i]
        guard c == 0x32 || c == 0x34 || c == 0x35 else { return nil }
        i += 1
        var parts = [Int(c - 0x30)]
        for _ in 0..<2 {
            guard i < end, bytes[i] == ASCIIByte.dot else { return nil }
            i += 1
            var value = 0
            var digits = 0
            while i < end, ASCIIByte.isDigit(bytes[i]), digits < 3 {
                value = value * 10 + Int(bytes[i] - 0x30)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            parts.append(value)
        }
        // A fourth digit or another dot means this is not a status code after all.
        if i < end, ASCIIByte.isDigit(bytes[i]) || bytes[i] == ASCIIByte.dot { return nil }
        return (EnhancedStatus(parts[0], parts[1], parts[2]), i - range.lowerBound)
    }
}

/// An SMTP reply, RFC 5321 §4.2: a three digit code and one or more lines of text, with an
/// optional RFC 3463 enhanced status code repeated on every line (RFC 2034 §3).
///
///     Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                      Reply-code [ SP textstring ] CRLF
///     Reply-code     = %x32-35 %x30-35 %x30-39
///     textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
///
/// `lines` hold the text only (neither code nor enhanced status). RFC 2034 §3 says the greeting
/// and the EHLO/HELO replies carry no enhanced status, nor do 3xx replies; the constructors below
/// follow that.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The three digit reply code, 200...599 (RFC 5321 §4.2.1).
    public var code: Int
    /// The RFC 3463 status repeated on every line, or nil (greeting, EHLO/HELO, 3xx).
    public var enhanced: EnhancedStatus?
    /// The text of each line, without code or enhanced status; never empty.
    public var lines: [String]

    /// A reply of one or more lines; an empty `lines` becomes one empty line.
    public init(code: Int, enhanced: EnhancedStatus? = nil, lines: [String]) {
        precondition((200...599).contains(code), "RFC 5321 §4.2 reply codes are 2xx to 5xx")
        self.code = code
        self.enhanced = enhanced
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// A one-line reply.
    public init(code: Int, enhanced: EnhancedStatus? = nil, _ text: String) {
        self.init(code: code, enhanced: enhanced, lines: [text])
    }

    /// The text of all lines joined by a space, for logs and error messages.
    public var text: String { lines.joined(separator: " ") }

    /// RFC 5321 §4.2.1: 2yz positive completion.
    public var isPositiveCompletion: Bool { code / 100 == 2 }
    /// RFC 5321 §4.2.1: 3yz positive intermediate (354, 334).
    public var isPositiveIntermediate: Bool { code / 100 == 3 }
    /// RFC 5321 §4.2.1: 4yz transient negative completion.
    public var isTransientFailure: Bool { code / 100 == 4 }
    /// RFC 5321 §4.2.1: 5yz permanent negative completion.
    public var isPermanentFailure: Bool { code / 100 == 5 }

    /// One line, as on the wire without CRLFs: `550 5.1.1 User unknown`.
    public var description: String {
        var s = String(code)
        if let enhanced { s += " \(enhanced)" }
        let t = text
        if !t.isEmpty { s += " " + t }
        return s
    }

    /// Appends the wire form: `250-...` for every line but the last, `250 ...` for the last,
    /// each ending in CRLF, the enhanced status after the code on every line (RFC 2034 §3).
    /// Control characters in the text are replaced by spaces, so a reply can never carry a
    /// bare CR or LF (DESIGN.md §4, we never emit one).
    public func encode(into buffer: inout [UInt8]) {
        let codeBytes = Array(String(code).utf8)
        let enhancedBytes = enhanced.map { Array($0.description.utf8) }
        for (index, line) in lines.enumerated() {
            let isLast = index == lines.count - 1
            buffer.append(contentsOf: codeBytes)
            buffer.append(isLast ? ASCIIByte.sp : 0x2D)
            if let enhancedBytes {
                buffer.append(contentsOf: enhancedBytes)
                if !line.isEmpty { buffer.append(ASCIIByte.sp) }
            }
            for b in line.utf8 {
                buffer.append((b < 0x20 && b != ASCIIByte.ht) || b == 0x7F ? ASCIIByte.sp : b)
            }
            buffer.append(ASCIIByte.cr)
            buffer.append(ASCIIByte.lf)
        }
    }

    /// The wire form as a new array.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}

// MARK: - Common replies

extension SMTPReply {
    /// `220 <hostname> ESMTP` — RFC 5321 §4.2 / §4.3.1. No enhanced status (RFC 2034 §3).
    public static func greeting(hostname: String, text: String = "ESMTP") -> SMTPReply {
        SMTPReply(code: 220, lines: [text.isEmpty ? hostname : "\(hostname) \(text)"])
    }

    /// The EHLO/LHLO reply, RFC 5321 §4.1.1.1: first line the server's name and greeting, then
    /// one keyword per line (`PIPELINING`, `SIZE 10240000`, ...). No enhanced status (RFC 2034 §3).
    public static func ehlo(hostname: String, greeting: String? = nil, capabilities: [String]) -> SMTPReply {
        let first = greeting.map { "\(hostname) \($0)" } ?? hostname
        return SMTPReply(code: 250, lines: [first] + capabilities)
    }

    /// The HELO reply, RFC 5321 §4.1.1.1. No enhanced status (RFC 2034 §3).
    public static func helo(hostname: String) -> SMTPReply {
        SMTPReply(code: 250, lines: [hostname])
    }

    /// `250 2.0.0 Ok`.
    public static let ok = SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), "Ok")
    /// `250 2.0.0 <text>`.
    public static func ok(_ text: String) -> SMTPReply {
        SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), text)
    }
    /// `250 2.1.0 Ok` after MAIL (RFC 3463 X.1.0, sender address accepted).
    public static let senderOk = SMTPReply(code: 250, enhanced: EnhancedStatus(2, 1, 0), "Ok")
    /// `250 2.1.5 Ok` after RCPT (RFC 3463 X.1.5, destination address valid).
    public static let recipientOk = SMTPReply(code: 250, enhanced: EnhancedStatus(2, 1, 5), "Ok")
    /// `250 2.0.0 Ok: queued as <id>` — the queue ID in the reply (DESIGN.md §4 "Traceable").
    public static func queued(id: String) -> SMTPReply {
        SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), "Ok: queued as \(id)")
    }
    /// `252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery` (RFC 5321 §3.5.3).
    public static let cannotVerify = SMTPReply(
        code: 252, enhanced: EnhancedStatus(2, 0, 0), "Cannot VRFY user, but will accept message and attempt delivery")
    /// `214 2.0.0 <text>` (RFC 5321 §4.1.1.8).
    public static func help(_ text: String = "See RFC 5321") -> SMTPReply {
        SMTPReply(code: 214, enhanced: EnhancedStatus(2, 0, 0), text)
    }
    /// `221 2.0.0 Bye` — RFC 5321 §4.1.1.10 reply to QUIT.
    public static let serviceClosing = SMTPReply(code: 221, enhanced: EnhancedStatus(2, 0, 0), "Bye")
    /// `220 2.0.0 Ready to start TLS` — RFC 3207 §4.
    public static let readyToStartTLS = SMTPReply(code: 220, enhanced: EnhancedStatus(2, 0, 0), "Ready to start TLS")
    /// `354 End data with <CR><LF>.<CR><LF>` — RFC 5321 §4.1.1.4. No enhanced status on 3xx.
    public static let startMailInput = SMTPReply(code: 354, "End data with <CR><LF>.<CR><LF>")
    /// `334 <base64 challenge>` — RFC 4954 §4; an empty challenge is `334 `.
    public static func authChallenge(_ base64: String) -> SMTPReply {
        SMTPReply(code: 334, base64)
    }
    /// `235 2.7.0 Authentication successful` — RFC 4954 §6.
    public static let authenticationSucceeded = SMTPReply(
        code: 235, enhanced: EnhancedStatus(2, 7, 0), "Authentication successful")

    /// `421 4.4.2 <hostname> Error: timeout exceeded` — RFC 5321 §4.5.3.2, RFC 3463 X.4.2.
    public static func timeout(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 4, 2), "\(hostname) Error: timeout exceeded")
    }
    /// `421 4.3.2 <hostname> Service not available, closing transmission channel` (RFC 5321 §3.8).
    public static func serviceNotAvailable(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 3, 2),
                  "\(hostname) Service not available, closing transmission channel")
    }
    /// `421 4.7.0 <hostname> Error: too many errors` — the session gives up on a client.
    public static func tooManyErrors(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 7, 0), "\(hostname) Error: too many errors")
    }
    /// `451 4.3.0 Local error in processing` — RFC 5321 §4.2.2; unknown errors become this
    /// temporary failure (DESIGN.md §5.5).
    public static let localError = SMTPReply(code: 451, enhanced: EnhancedStatus(4, 3, 0), "Local error in processing")
    /// `452 4.3.1 Insufficient system storage` — RFC 5321 §4.2.2.
    public static let insufficientStorage = SMTPReply(
        code: 452, enhanced: EnhancedStatus(4, 3, 1), "Insufficient system storage")
    /// `452 4.5.3 Too many recipients` — RFC 5321 §4.5.3.1.10, RFC 3463 X.5.3.
    public static let tooManyRecipients = SMTPReply(code: 452, enhanced: EnhancedStatus(4, 5, 3), "Too many recipients")
    /// `454 4.7.0 TLS not available due to temporary reason` — RFC 3207 §4.
    public static let tlsNotAvailable = SMTPReply(
        code: 454, enhanced: EnhancedStatus(4, 7, 0), "TLS not available due to temporary reason")

    /// `500 5.5.2 Syntax error, command unrecognized` — RFC 5321 §4.2.2.
    public static let commandUnrecognized = SMTPReply(
        code: 500, enhanced: EnhancedStatus(5, 5, 2), "Syntax error, command unrecognized")
    /// `500 5.5.6 Line too long` — a command line over `SMTPLimits.maxCommandLineLength`
    /// (RFC 5321 §4.5.3.1.4, §4.2.2).
    public static let lineTooLong = SMTPReply(code: 500, enhanced: EnhancedStatus(5, 5, 6), "Line too long")
    /// `500 5.5.6 Authentication Exchange line is too long` — RFC 4954 §6.
    public static let authLineTooLong = SMTPReply(
        code: 500, enhanced: EnhancedStatus(5, 5, 6), "Authentication Exchange line is too long")
    /// `500 5.5.2 Syntax error, bare <LF> received` — a command line ending in LF alone.
    /// Lines end in CRLF only (RFC 5321 §2.3.8); tolerating bare LF is what SMTP smuggling
    /// exploits (DESIGN.md §4).
    public static let bareLineFeedInCommand = SMTPReply(
        code: 500, enhanced: EnhancedStatus(5, 5, 2), "Syntax error, bare <LF> received; lines must end in <CR><LF>")
    /// `500 5.5.2 Syntax error, bare <CR> received` — a CR not followed by LF in a command line.
    public static let bareCarriageReturnInCommand = SMTPReply(
        code: 500, enhanced: EnhancedStatus(5, 5, 2), "Syntax error, bare <CR> received; lines must end in <CR><LF>")
    /// `501 5.5.4 Syntax error in parameters or arguments` — RFC 5321 §4.2.2.
    public static let syntaxErrorInParameters = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 5, 4), "Syntax error in parameters or arguments")
    /// `501 5.5.4 <text>`.
    public static func syntaxErrorInParameters(_ text: String) -> SMTPReply {
        SMTPReply(code: 501, enhanced: EnhancedStatus(5, 5, 4), text)
    }
    /// `501 5.1.7 Bad sender address syntax` — RFC 3463 X.1.7.
    public static let badSenderSyntax = SMTPReply(code: 501, enhanced: EnhancedStatus(5, 1, 7), "Bad sender address syntax")
    /// `501 5.1.3 Bad recipient address syntax` — RFC 3463 X.1.3.
    public static let badRecipientSyntax = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 1, 3), "Bad recipient address syntax")
    /// `501 5.5.4 Duplicate MAIL/RCPT parameter`.
    public static let duplicateParameter = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 5, 4), "Duplicate MAIL/RCPT parameter")
    /// `501 5.5.2 Cannot Base64-decode Client responses` — RFC 4954 §6.
    public static let invalidBase64 = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 5, 2), "Cannot Base64-decode Client responses")
    /// `501 5.7.0 Authentication cancelled` — the client sent `*` (RFC 4954 §4).
    public static let authenticationCancelled = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 7, 0), "Authentication cancelled")
    /// `502 5.5.1 Command not implemented` — RFC 5321 §4.2.2.
    public static let notImplemented = SMTPReply(code: 502, enhanced: EnhancedStatus(5, 5, 1), "Command not implemented")
    /// `503 5.5.1 Bad sequence of commands` — RFC 5321 §4.2.2.
    public static let badSequence = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Bad sequence of commands")
    /// `530 5.7.0 Authentication required` — RFC 4954 §6.
    public static let authenticationRequired = SMTPReply(
        code: 530, enhanced: EnhancedStatus(5, 7, 0), "Authentication required")
    /// `530 5.7.0 Must issue a STARTTLS command first` — RFC 3207 §4.
    public static let startTLSRequired = SMTPReply(
        code: 530, enhanced: EnhancedStatus(5, 7, 0), "Must issue a STARTTLS command first")
    /// `535 5.7.8 Authentication credentials invalid` — RFC 4954 §6.
    public static let authenticationFailed = SMTPReply(
        code: 535, enhanced: EnhancedStatus(5, 7, 8), "Authentication credentials invalid")
    /// `538 5.7.11 Encryption required for requested authentication mechanism` — RFC 4954 §6.
    public static let encryptionRequired = SMTPReply(
        code: 538, enhanced: EnhancedStatus(5, 7, 11), "Encryption required for requested authentication mechanism")
    /// `550 5.1.1 User unknown` — RFC 3463 X.1.1 (DESIGN.md §4: rejected at RCPT, not bounced later).
    public static let userUnknown = SMTPReply(code: 550, enhanced: EnhancedStatus(5, 1, 1), "User unknown")
    /// `550 5.1.1 <address>: User unknown`.
    public static func userUnknown(_ address: String) -> SMTPReply {
        SMTPReply(code: 550, enhanced: EnhancedStatus(5, 1, 1), "<\(address)>: User unknown")
    }
    /// `552 5.3.4 Message size exceeds fixed limit` — RFC 1870 §6.3, RFC 3463 X.3.4.
    public static let messageTooBig = SMTPReply(
        code: 552, enhanced: EnhancedStatus(5, 3, 4), "Message size exceeds fixed limit")
    /// `554 5.7.1 Relay access denied` — RFC 3463 X.7.1 (DESIGN.md §4 "No open relay").
    public static let relayDenied = SMTPReply(code: 554, enhanced: EnhancedStatus(5, 7, 1), "Relay access denied")
    /// `550 5.7.1` for mail whose From: domain publishes DMARC `p=reject` and that failed it
    /// (RFC 7489 §6.6.4, §10.3; RFC 7372 §3.1 X.7.1 as the refusal's enhanced status).
    public static func dmarcRejected(_ domain: String) -> SMTPReply {
        SMTPReply(code: 550, enhanced: EnhancedStatus(5, 7, 1), "DMARC policy of \(domain) rejects this message: it failed SPF and DKIM alignment")
    }
    /// `555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented` — RFC 5321 §4.2.2.
    public static let parametersNotRecognized = SMTPReply(
        code: 555, enhanced: EnhancedStatus(5, 5, 4), "MAIL FROM/RCPT TO parameters not recognized or not implemented")
}

// MARK: - Replies of the SMTP server's session (one place, each with its RFC)

extension SMTPReply {
    /// `503 5.5.1 Error: need MAIL command` — RFC 5321 §4.1.4: RCPT/DATA/BDAT before MAIL.
    public static let needMailCommand = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: need MAIL command")
    /// `503 5.5.1 Error: send HELO/EHLO first` — RFC 5321 §4.1.4.
    public static let needHelo = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: send HELO/EHLO first")
    /// `503 5.5.1 Error: send EHLO first` — RFC 4954 §4: AUTH is an ESMTP extension.
    public static let needEhlo = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: send EHLO first")
    /// `503 5.5.1 Error: nested MAIL command` — RFC 5321 §4.1.4.
    public static let nestedMail = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: nested MAIL command")
    /// `554 5.5.1 Error: no valid recipients` — RFC 5321 §3.3: DATA without an accepted RCPT.
    public static let noValidRecipients = SMTPReply(code: 554, enhanced: EnhancedStatus(5, 5, 1), "Error: no valid recipients")
    /// `503 5.5.1 Error: BODY=BINARYMIME requires BDAT` — RFC 3030 §3.
    public static let binaryMIMERequiresBDAT = SMTPReply(
        code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: BODY=BINARYMIME requires BDAT")
    /// `503 5.5.1 Error: DATA after BDAT` — RFC 3030 §2: one transaction uses one of them.
    public static let dataAfterBDAT = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: DATA after BDAT")
    /// `250 2.0.0 <n> octets received` — RFC 3030 §2, a BDAT chunk that is not the last.
    public static func chunkReceived(totalOctets: Int) -> SMTPReply {
        SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), "\(totalOctets) octets received")
    }
    /// `502 5.5.1 EXPN is disabled` — RFC 5321 §3.5.2 lets a server refuse EXPN; lists stay private.
    public static let expnDisabled = SMTPReply(code: 502, enhanced: EnhancedStatus(5, 5, 1), "EXPN is disabled")
    /// `502 5.5.1 STARTTLS not available` — RFC 3207 §4, on a listener without TLS (LMTP).
    public static let startTLSNotOffered = SMTPReply(code: 502, enhanced: EnhancedStatus(5, 5, 1), "STARTTLS not available")
    /// `554 5.5.1 Error: pipelined data after STARTTLS` — RFC 3207 §4.2 (CVE-2011-0411): plaintext
    /// sent after STARTTLS must not be read as protected; the connection is closed.
    public static let pipelinedAfterSTARTTLS = SMTPReply(
        code: 554, enhanced: EnhancedStatus(5, 5, 1), "Error: pipelined data after STARTTLS")
    /// `553 5.7.1 <sender>: Sender address rejected: not owned by user <user>` — RFC 6409 §8.1:
    /// a submission server may check the sender against the authenticated identity.
    public static func senderNotOwned(_ sender: String, user: String) -> SMTPReply {
        SMTPReply(code: 553, enhanced: EnhancedStatus(5, 7, 1), "<\(sender)>: Sender address rejected: not owned by user \(user)")
    }
    /// `501 5.1.7 Bad sender address syntax: <why>` — RFC 3463 X.1.7.
    public static func badSenderSyntax(_ why: String) -> SMTPReply {
        SMTPReply(code: 501, enhanced: EnhancedStatus(5, 1, 7), "Bad sender address syntax: \(why)")
    }
    /// `501 5.1.3 Bad recipient address syntax: <why>` — RFC 3463 X.1.3.
    public static func badRecipientSyntax(_ why: String) -> SMTPReply {
        SMTPReply(code: 501, enhanced: EnhancedStatus(5, 1, 3), "Bad recipient address syntax: \(why)")
    }
    /// `452 4.2.2 <address>: Mailbox full` — RFC 3463 X.2.2, temporary: the sender retries.
    public static func mailboxFull(_ address: String) -> SMTPReply {
        SMTPReply(code: 452, enhanced: EnhancedStatus(4, 2, 2), "<\(address)>: Mailbox full")
    }
    /// `451 4.3.0 Temporary lookup failure` — RFC 5321 §4.2.2; the reason goes to the log only.
    public static let temporaryLookupFailure = SMTPReply(code: 451, enhanced: EnhancedStatus(4, 3, 0), "Temporary lookup failure")
    /// `503 5.5.1 Error: already authenticated` — RFC 4954 §4.
    public static let alreadyAuthenticated = SMTPReply(code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: already authenticated")
    /// `503 5.5.1 Error: AUTH not allowed during a mail transaction` — RFC 4954 §4.
    public static let authDuringTransaction = SMTPReply(
        code: 503, enhanced: EnhancedStatus(5, 5, 1), "Error: AUTH not allowed during a mail transaction")
    /// `504 5.5.4 Unrecognized authentication type` — RFC 4954 §6.
    public static let unrecognizedAuthenticationType = SMTPReply(
        code: 504, enhanced: EnhancedStatus(5, 5, 4), "Unrecognized authentication type")
    /// `501 5.5.2 Malformed authentication data` — RFC 4954 §6.
    public static let malformedAuthentication = SMTPReply(
        code: 501, enhanced: EnhancedStatus(5, 5, 2), "Malformed authentication data")
    /// `454 4.7.0 Temporary authentication failure` — RFC 4954 §6: the directory or database
    /// could not decide; not a wrong password.
    public static let temporaryAuthenticationFailure = SMTPReply(
        code: 454, enhanced: EnhancedStatus(4, 7, 0), "Temporary authentication failure")
    /// `421 4.7.0 <hostname> Error: too many failed authentications` — the connection is closed
    /// after `Authenticator.Configuration.maxFailuresPerConnection` failures.
    public static func tooManyAuthenticationFailures(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 7, 0), "\(hostname) Error: too many failed authentications")
    }
    /// `421 4.7.0 <hostname> Error: too many connections from your address` (Postfix's anvil).
    public static func tooManyConnections(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 7, 0), "\(hostname) Error: too many connections from your address")
    }
    /// `421 4.3.2 <hostname> Error: too many connections` — the server's total is reached.
    public static func serverBusy(hostname: String) -> SMTPReply {
        SMTPReply(code: 421, enhanced: EnhancedStatus(4, 3, 2), "\(hostname) Error: too many connections, try again later")
    }
    /// `250 2.1.5 <rcpt> Ok: delivered as <id>` — LMTP's per-recipient reply (RFC 2033 §4.2).
    public static func deliveredTo(_ recipient: String, queueID: String) -> SMTPReply {
        SMTPReply(code: 250, enhanced: EnhancedStatus(2, 1, 5), "<\(recipient)> Ok: delivered as \(queueID)")
    }
    /// `552 5.2.2 <rcpt>: Mailbox full` — RFC 3463 X.2.2 when the quota is a permanent refusal.
    public static func mailboxFullPermanently(_ address: String) -> SMTPReply {
        SMTPReply(code: 552, enhanced: EnhancedStatus(5, 2, 2), "<\(address)>: Mailbox full")
    }
    /// `554 5.4.6 Too many hops` — RFC 5321 §6.3, RFC 3463 X.4.6 "routing loop detected"; 554
    /// because a loop does not heal by retrying.
    public static let tooManyHops = SMTPReply(code: 554, enhanced: EnhancedStatus(5, 4, 6), "Too many hops")
}
