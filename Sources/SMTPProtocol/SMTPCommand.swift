import LineFraming
import MailCore
/// One SMTP (RFC 5321 §4.1) or LMTP (RFC 2033) command, as the server receives it.
///
/// Arguments are returned as text; addresses are not validated beyond their RFC 5321 §4.1.2
/// `Path` syntax (the address module does that). Unknown verbs are a parse error
/// (`500 5.5.2`), never a case of this enum.
public enum SMTPCommand: Sendable, Hashable {
    /// `ehlo = "EHLO" SP ( Domain / address-literal ) CRLF` — RFC 5321 §4.1.1.1.
    case ehlo(String)
    /// `helo = "HELO" SP Domain CRLF` — RFC 5321 §4.1.1.1.
    case helo(String)
    /// `LHLO SP domain CRLF` — RFC 2033 §4.1, LMTP's EHLO.
    case lhlo(String)
    /// `mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF` — RFC 5321 §4.1.1.2.
    /// `reversePath` is the mailbox inside the angle brackets with any source route removed;
    /// `""` for the null reverse-path `<>`.
    case mail(reversePath: String, parameters: [ESMTPParameter])
    /// `rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
    /// [SP Rcpt-parameters] CRLF` — RFC 5321 §4.1.1.3. `forwardPath` is never empty.
    case rcpt(forwardPath: String, parameters: [ESMTPParameter])
    /// `data = "DATA" CRLF` — RFC 5321 §4.1.1.4.
    case data
    /// `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF` — RFC 3030 §2.
    case bdat(size: Int, last: Bool)
    /// `rset = "RSET" CRLF` — RFC 5321 §4.1.1.5.
    case rset
    /// `noop = "NOOP" [ SP String ] CRLF` — RFC 5321 §4.1.1.9; the argument is ignored.
    case noop
    /// `quit = "QUIT" CRLF` — RFC 5321 §4.1.1.10.
    case quit
    /// `vrfy = "VRFY" SP String CRLF` — RFC 5321 §4.1.1.6.
    case vrfy(String)
    /// `expn = "EXPN" SP String CRLF` — RFC 5321 §4.1.1.7.
    case expn(String)
    /// `help = "HELP" [ SP String ] CRLF` — RFC 5321 §4.1.1.8.
    case help(String?)
    /// `STARTTLS CRLF` — RFC 3207 §4, no parameters allowed.
    case starttls
    /// `"AUTH" SP sasl-mech [SP initial-response] CRLF` — RFC 4954 §4. `mechanism` is
    /// uppercased; `initialResponse` is base64 text (syntax checked, not decoded) or `"="`,
    /// which means an empty initial response.
    case auth(mechanism: String, initialResponse: String?)

    /// The verb as sent on the wire, for logs and metrics.
    public var verb: String {
        switch self {
        case .ehlo: "EHLO"
        case .helo: "HELO"
        case .lhlo: "LHLO"
        case .mail: "MAIL"
        case .rcpt: "RCPT"
        case .data: "DATA"
        case .bdat: "BDAT"
        case .rset: "RSET"
        case .noop: "NOOP"
        case .quit: "QUIT"
        case .vrfy: "VRFY"
        case .expn: "EXPN"
        case .help: "HELP"
        case .starttls: "STARTTLS"
        case .auth: "AUTH"
        }
    }
}

/// A `MAIL`/`RCPT` parameter, RFC 5321 §4.1.2:
///
///     esmtp-param    = esmtp-keyword ["=" esmtp-value]
///     esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
///     esmtp-value    = 1*(%d33-60 / %d62-126)
///                      ; any CHAR excluding "=", SP, and control characters;
///                      ; RFC 6531 §3.3 adds UTF8-non-ascii
public struct ESMTPParameter: Sendable, Hashable, CustomStringConvertible {
    /// Uppercased keyword.
    public var keyword: String
    /// The value after `=`, or nil for a keyword alone (e.g. `SMTPUTF8`).
    public var value: String?

    public init(keyword: String, value: String? = nil) {
        self.keyword = keyword.uppercased()
        self.value = value
    }

    public var description: String { value.map { "\(keyword)=\($0)" } ?? keyword }
}

/// A syntax or semantic error in a command, carrying the reply to send (DESIGN.md §5.5).
public struct SMTPSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reply: SMTPReply
    public init(_ reply: SMTPReply) { self.reply = reply }
    public var description: String { reply.description }
}

/// Thrown when a command cannot be put on the wire safely.
public enum SMTPEncodingError: Error, Sendable, Hashable {
    /// An argument holds CR, LF or another control character: sending it would end the
    /// command line early and inject another command (we never emit bare CR/LF, DESIGN.md §4).
    case controlCharacterInArgument(String)
}

// MARK: - xtext


// MARK: - MAIL parameters

/// The `MAIL FROM` parameters this server understands, typed.
///
/// Parsing checks syntax only; whether a parameter is allowed (e.g. `BODY=BINARYMIME` needs
/// CHUNKING, `SMTPUTF8` must have been offered) is the session's decision.
public struct MailParameters: Sendable, Hashable {
    /// `BODY=` values, RFC 6152 §2 and RFC 3030 §3.
    public enum Body: String, Sendable, Hashable, CaseIterable {
        case sevenBit = "7BIT"
        case eightBitMIME = "8BITMIME"
        case binaryMIME = "BINARYMIME"
    }

    /// `RET=` values, RFC 3461 §4.3.
    public enum Return: String, Sendable, Hashable, CaseIterable {
        case full = "FULL"
        case headers = "HDRS"
    }

    /// `SIZE=` — RFC 1870 §3, the client's size estimate in octets. `size-value ::= 1*20DIGIT`;
    /// values beyond `UInt64.max` saturate (they exceed any limit anyway).
    public var size: UInt64?
    /// `BODY=` — RFC 6152 §2 / RFC 3030 §3.
    public var body: Body?
    /// `SMTPUTF8` — RFC 6531 §3.4, takes no value.
    public var smtpUTF8: Bool
    /// `RET=` — RFC 3461 §4.3.
    public var ret: Return?
    /// `ENVID=` — RFC 3461 §4.4, xtext-decoded.
    public var envelopeID: String?
    /// `AUTH=` — RFC 4954 §5, xtext-decoded mailbox of the original submitter; `"<>"` means
    /// unknown.
    public var auth: String?

    public init(size: UInt64? = nil, body: Body? = nil, smtpUTF8: Bool = false, ret: Return? = nil,
                envelopeID: String? = nil, auth: String? = nil) {
        self.size = size
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.ret = ret
        self.envelopeID = envelopeID
        self.auth = auth
    }

    /// Parses the parameters of a `MAIL` command. Unknown keywords throw
    /// `555 5.5.4` (RFC 5321 §4.1.1.11); bad values and duplicates throw `501 5.5.4`.
    ///
    ///     size-param  = "SIZE" "=" 1*20DIGIT                          ; RFC 1870 §3
    ///     body-param  = "BODY" "=" ("7BIT" / "8BITMIME" / "BINARYMIME") ; RFC 6152, RFC 3030
    ///     smtputf8    = "SMTPUTF8"                                     ; RFC 6531 §3.4
    ///     ret-param   = "RET" "=" ("FULL" / "HDRS")                    ; RFC 3461 §4.3
    ///     envid-param = "ENVID" "=" xtext                              ; RFC 3461 §4.4
    ///     auth-param  = "AUTH" "=" xtext                               ; RFC 4954 §5
    public init(_ parameters: [ESMTPParameter]) throws(SMTPSyntaxError) {
        self.init()
        var seen = Set<String>()
        for parameter in parameters {
            let keyword = parameter.keyword.uppercased()
            guard seen.insert(keyword).inserted else { throw SMTPSyntaxError(.duplicateParameter) }
            switch keyword {
            case "SIZE":
                guard let value = parameter.value, !value.isEmpty,
                      value.utf8.count <= SMTPLimits.maxSizeParameterDigits,
                      value.utf8.allSatisfy(ASCIIByte.isDigit)
                else { throw SMTPSyntaxError(.syntaxErrorInParameters("Bad SIZE parameter")) }
                var n: UInt64 = 0
                var overflow = false
                for d in value.utf8 where !overflow {
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(d - 0x30))
                    overflow = o1 || o2
                    n = s
                }
                size = overflow ? UInt64.max : n
            case "BODY":
                guard let value = parameter.value, let b = Body(rawValue: value.uppercased()) else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("Bad BODY parameter"))
                }
                body = b
            case "SMTPUTF8":
                guard parameter.value == nil else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("SMTPUTF8 takes no value"))
                }
                smtpUTF8 = true
            case "RET":
                guard let value = parameter.value, let r = Return(rawValue: value.uppercased()) else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("Bad RET parameter"))
                }
                ret = r
            case "ENVID":
                guard let value = parameter.value, value.utf8.count <= SMTPLimits.maxEnvelopeIDLength,
                      let decoded = XText.decode(value)
                else { throw SMTPSyntaxError(.syntaxErrorInParameters("Bad ENVID parameter")) }
                envelopeID = decoded
            case "AUTH":
                guard let value = parameter.value else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("Bad AUTH parameter"))
                }
                if value == "<>" {
                    auth = value
                } else if let decoded = XText.decode(value) {
                    auth = decoded
                } else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("Bad AUTH parameter"))
                }
            default:
                throw SMTPSyntaxError(.parametersNotRecognized)
            }
        }
    }

    /// The parameters as an SMTP client sends them, in a fixed order, values xtext-encoded.
    public var esmtpParameters: [ESMTPParameter] {
        var out: [ESMTPParameter] = []
        if let size { out.append(ESMTPParameter(keyword: "SIZE", value: String(size))) }
        if let body { out.append(ESMTPParameter(keyword: "BODY", value: body.rawValue)) }
        if smtpUTF8 { out.append(ESMTPParameter(keyword: "SMTPUTF8")) }
        if let ret { out.append(ESMTPParameter(keyword: "RET", value: ret.rawValue)) }
        if let envelopeID { out.append(ESMTPParameter(keyword: "ENVID", value: XText.encode(envelopeID))) }
        if let auth { out.append(ESMTPParameter(keyword: "AUTH", value: auth == "<>" ? auth : XText.encode(auth))) }
        return out
    }
}

// MARK: - RCPT parameters

/// The `RCPT TO` parameters this server understands, typed (RFC 3461 §4.1, §4.2).
public struct RcptParameters: Sendable, Hashable {
    /// The conditions of `NOTIFY=SUCCESS,FAILURE,DELAY`.
    public struct NotifyConditions: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let success = NotifyConditions(rawValue: 1)
        public static let failure = NotifyConditions(rawValue: 2)
        public static let delay = NotifyConditions(rawValue: 4)
    }

    /// `NOTIFY=` — RFC 3461 §4.1:
    ///
    ///     notify-esmtp-value  = "NEVER" / 1#notify-list-element
    ///     notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
    public enum Notify: Sendable, Hashable {
        case never
        case on(NotifyConditions)
    }

    /// `ORCPT=` — RFC 3461 §4.2, `orcpt-parameter = "ORCPT=" original-recipient-address`,
    /// `original-recipient-address = addr-type ";" xtext`. For `addr-type` `utf-8`
    /// (RFC 6533 §3) the address may carry raw UTF-8 and `\x{HEX}` escapes, which are decoded.
    public struct OriginalRecipient: Sendable, Hashable {
        /// `rfc822`, `utf-8`, ... as sent (case preserved; compare case-insensitively).
        public var addressType: String
        /// The decoded address.
        public var address: String
        public init(addressType: String, address: String) {
            self.addressType = addressType
            self.address = address
        }

        /// `addr-type;xtext` as sent on the wire.
        public var encoded: String {
            if addressType.lowercased() == "utf-8" {
                // RFC 6533 §3 utf-8-addr-xtext: escape what xtext forbids as \x{HEX}.
                var out = ""
                for scalar in address.unicodeScalars {
                    let v = scalar.value
                    if v >= 33 && v <= 126 && v != 0x2B && v != 0x3D && v != 0x5C {
                        out.unicodeScalars.append(scalar)
                    } else {
                        out += "\\x{" + String(v, radix: 16, uppercase: true) + "}"
                    }
                }
                return "\(addressType);\(out)"
            }
            return "\(addressType);\(XText.encode(address))"
        }
    }

    /// `NOTIFY=`, RFC 3461 §4.1.
    public var notify: Notify?
    /// `ORCPT=`, RFC 3461 §4.2.
    public var originalRecipient: OriginalRecipient?

    public init(notify: Notify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.notify = notify
        self.originalRecipient = originalRecipient
    }

    /// Parses the parameters of a `RCPT` command. Unknown keywords throw `555 5.5.4`; bad
    /// values and duplicates throw `501 5.5.4`.
    public init(_ parameters: [ESMTPParameter]) throws(SMTPSyntaxError) {
        self.init()
        var seen = Set<String>()
        for parameter in parameters {
            let keyword = parameter.keyword.uppercased()
            guard seen.insert(keyword).inserted else { throw SMTPSyntaxError(.duplicateParameter) }
            switch keyword {
            case "NOTIFY":
                guard let value = parameter.value, let parsed = Self.parseNotify(value) else {
                    throw SMTPSyntaxError(.syntaxErrorInParameters("Bad NOTIFY parameter"))
                }
                notify = parsed
            case "ORCPT":
                guard let value = parameter.value, value.utf8.count <= SMTPLimits.maxOriginalRecipientLength,
                      let parsed = Self.parseOriginalRecipient(value)
                else { throw SMTPSyntaxError(.syntaxErrorInParameters("Bad ORCPT parameter")) }
                originalRecipient = parsed
            default:
                throw SMTPSyntaxError(.parametersNotRecognized)
            }
        }
    }

    /// The parameters as an SMTP client sends them.
    public var esmtpParameters: [ESMTPParameter] {
        var out: [ESMTPParameter] = []
        switch notify {
        case .never:
            out.append(ESMTPParameter(keyword: "NOTIFY", value: "NEVER"))
        case .on(let conditions):
            var names: [String] = []
            if conditions.contains(.success) { names.append("SUCCESS") }
            if conditions.contains(.failure) { names.append("FAILURE") }
            if conditions.contains(.delay) { names.append("DELAY") }
            if !names.isEmpty { out.append(ESMTPParameter(keyword: "NOTIFY", value: names.joined(separator: ","))) }
        case nil:
            break
        }
        if let originalRecipient { out.append(ESMTPParameter(keyword: "ORCPT", value: originalRecipient.encoded)) }
        return out
    }

    static func parseNotify(_ value: String) -> Notify? {
        let items = value.uppercased().split(separator: ",", omittingEmptySubsequences: false)
        if items == ["NEVER"] { return .never }
        var conditions: NotifyConditions = []
        for item in items {
            let c: NotifyConditions
            switch item {
            case "SUCCESS": c = .success
            case "FAILURE": c = .failure
            case "DELAY": c = .delay
            default: return nil  // includes NEVER combined with others, and empty items
            }
            guard !conditions.contains(c) else { return nil }
            conditions.insert(c)
        }
        return .on(conditions)
    }

    static func parseOriginalRecipient(_ value: String) -> OriginalRecipient? {
        guard let semicolon = value.utf8.firstIndex(of: 0x3B) else { return nil }
        let type = String(value[..<semicolon])
        let rest = String(value[value.utf8.index(after: semicolon)...])
        // addr-type is an atom (RFC 3461 §4.2): letters, digits, "-" in practice.
        guard !type.isEmpty, type.utf8.allSatisfy({ ASCIIByte.isAlpha($0) || ASCIIByte.isDigit($0) || $0 == 0x2D }),
              !rest.isEmpty
        else { return nil }
        if type.lowercased() == "utf-8" {
            guard let address = decodeUTF8AddrText(rest) else { return nil }
            return OriginalRecipient(addressType: type, address: address)
        }
        guard let address = XText.decode(rest) else { return nil }
        return OriginalRecipient(addressType: type, address: address)
    }

    /// RFC 6533 §3: `utf-8-addr-xtext` / `utf-8-addr-unitext`, with
    /// `EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"`.
    static func decodeUTF8AddrText(_ value: String) -> String? {
        var out = String.UnicodeScalarView()
        let scalars = Array(value.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            if s == "\\" {
                guard i + 3 < scalars.count, scalars[i + 1] == "x", scalars[i + 2] == "{" else { return nil }
                var j = i + 3
                var v: UInt32 = 0
                var digits = 0
                while j < scalars.count, scalars[j] != "}" {
                    guard digits < 6, scalars[j].isASCII, let h = XText.hexValue(UInt8(scalars[j].value)) else {
                        return nil
                    }
                    v = v << 4 | UInt32(h)
                    digits += 1
                    j += 1
                }
                guard j < scalars.count, digits >= 2, let decoded = Unicode.Scalar(v) else { return nil }
                out.append(decoded)
                i = j + 1
            } else {
                // "+" and "=" are not allowed raw (RFC 6533 QCHAR excludes them); nor controls.
                guard s.value > 32, s.value != 127, s != "+", s != "=" else { return nil }
                out.append(s)
                i += 1
            }
        }
        return String(out)
    }
}

// MARK: - Encoding (the client side)

extension SMTPCommand {
    /// Appends the command line, CRLF-terminated, as an SMTP client sends it.
    /// Throws rather than emit an argument holding CR, LF or another control character.
    public func encode(into buffer: inout [UInt8]) throws(SMTPEncodingError) {
        var line = verb
        switch self {
        case .ehlo(let a), .helo(let a), .lhlo(let a), .vrfy(let a), .expn(let a):
            line += " " + a
        case .help(let a):
            if let a { line += " " + a }
        case .mail(let path, let parameters):
            line += " FROM:<\(path)>"
            for p in parameters { line += " \(p)" }
        case .rcpt(let path, let parameters):
            line += " TO:<\(path)>"
            for p in parameters { line += " \(p)" }
        case .bdat(let size, let last):
            line += " \(size)" + (last ? " LAST" : "")
        case .auth(let mechanism, let initialResponse):
            line += " " + mechanism
            if let initialResponse { line += " " + initialResponse }
        case .data, .rset, .noop, .quit, .starttls:
            break
        }
        if line.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .controlCharacterInArgument(line)
        }
        buffer.append(contentsOf: line.utf8)
        buffer.append(ASCIIByte.cr)
        buffer.append(ASCIIByte.lf)
    }

    /// The encoded command line, or nil if it cannot be sent safely.
    public var encoded: [UInt8]? {
        var buffer: [UInt8] = []
        do { try encode(into: &buffer) } catch { return nil }
        return buffer
    }
}
