/// A Content-Type header value, RFC 2045 §5.1.
///
/// ```
/// content := "Content-Type" ":" type "/" subtype *(";" parameter)
/// type := discrete-type / composite-type          ; case-insensitive
/// subtype := extension-token / iana-token
/// ```
public struct ContentType: Sendable, Hashable {
    /// ASCII-lowercased media type, e.g. `text`, `multipart`.
    public var type: String
    /// ASCII-lowercased subtype, e.g. `plain`, `mixed`.
    public var subtype: String
    /// Parameters resolved per RFC 2231 (continuations joined, charsets decoded), in order.
    public var parameters: [MIMEParameter]
    /// Parameters exactly as written (names lowercased, values unquoted, nothing decoded).
    public var rawParameters: [MIMEParameter]

    public init(type: String, subtype: String, parameters: [MIMEParameter] = [], rawParameters: [MIMEParameter]? = nil) {
        self.type = MailSyntax.asciiLowercased(type)
        self.subtype = MailSyntax.asciiLowercased(subtype)
        self.parameters = parameters
        self.rawParameters = rawParameters ?? parameters
    }

    /// RFC 2045 §5.2: a part without Content-Type (or with an unparseable one) is
    /// `text/plain; charset=us-ascii`.
    public static let textPlainDefault = ContentType(
        type: "text", subtype: "plain", parameters: [MIMEParameter(name: "charset", value: "us-ascii")])

    /// RFC 2046 §5.1.5: inside multipart/digest the default is `message/rfc822`.
    public static let digestDefault = ContentType(type: "message", subtype: "rfc822")

    /// Parses a Content-Type value; nil when `type "/" subtype` is missing or malformed, in which
    /// case callers should use ``textPlainDefault`` (RFC 2045 §5.2).
    public static func parse(_ value: String) -> ContentType? {
        var lexer = MIMELexer(Array(value.utf8))
        lexer.skipCFWS()
        guard let type = lexer.token() else { return nil }
        lexer.skipCFWS()
        guard lexer.peek == UInt8(ascii: "/") else { return nil }
        lexer.index += 1
        lexer.skipCFWS()
        guard let subtype = lexer.token() else { return nil }
        guard type.utf8.allSatisfy({ $0 < 0x80 }), subtype.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        lexer.skipCFWS()
        // Anything other than ";" here is junk (e.g. "text/plain charset=x"); still read the
        // parameters that follow rather than lose the charset.
        let raw = lexer.parameterList()
        return ContentType(type: type, subtype: subtype, parameters: MIMEParameters.resolve(raw), rawParameters: raw)
    }

    /// `type/subtype`
    public var mimeType: String { type + "/" + subtype }

    /// The resolved value of parameter `name` (case-insensitive).
    public func parameter(_ name: String) -> String? {
        let lower = MailSyntax.asciiLowercased(name)
        return parameters.first { $0.name == lower }?.value
    }

    public var charset: String? { parameter("charset") }
    public var boundary: String? { parameter("boundary") }

    public var isMultipart: Bool { type == "multipart" }
    public var isText: Bool { type == "text" }
    /// message/rfc822, or message/global (RFC 6532 §3.5, IMAP4rev2 RFC 9051 §7.5.2): a whole
    /// message is encapsulated and gets its own ENVELOPE and BODYSTRUCTURE.
    public var isEncapsulatedMessage: Bool {
        type == "message" && (subtype == "rfc822" || subtype == "global")
    }
}

/// A Content-Disposition header value, RFC 2183 §2.
///
/// ```
/// disposition := "Content-Disposition" ":" disposition-type *(";" disposition-parm)
/// disposition-type := "inline" / "attachment" / extension-token   ; case-insensitive
/// ```
public struct ContentDisposition: Sendable, Hashable {
    /// ASCII-lowercased disposition type, e.g. `inline`, `attachment`.
    public var value: String
    public var parameters: [MIMEParameter]
    public var rawParameters: [MIMEParameter]

    public init(value: String, parameters: [MIMEParameter] = [], rawParameters: [MIMEParameter]? = nil) {
        self.value = MailSyntax.asciiLowercased(value)
        self.parameters = parameters
        self.rawParameters = rawParameters ?? parameters
    }

    public static func parse(_ text: String) -> ContentDisposition? {
        var lexer = MIMELexer(Array(text.utf8))
        lexer.skipCFWS()
        guard let value = lexer.token() else { return nil }
        let raw = lexer.parameterList()
        return ContentDisposition(value: value, parameters: MIMEParameters.resolve(raw), rawParameters: raw)
    }

    public func parameter(_ name: String) -> String? {
        let lower = MailSyntax.asciiLowercased(name)
        return parameters.first { $0.name == lower }?.value
    }

    /// The `filename` parameter (RFC 2183 §2.3), decoded.
    public var filename: String? { parameter("filename") }
}
