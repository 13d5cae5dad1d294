/// Every bound the POP3 grammar enforces, in one place (DESIGN.md §4 "Bounded everything").
/// `POP3CommandParser.Configuration` takes these as its documented defaults.
public enum POP3Limits {
    /// The longest command line, CRLF included: RFC 2449 §4 raised RFC 1939's 47 octets to
    /// 255. A password longer than 248 octets therefore needs `AUTH PLAIN`, whose lines may be
    /// longer (`maxAuthLineLength`).
    public static let maxCommandLineLength = 255

    /// The longest `AUTH` command line and SASL response line, CRLF included. The client's
    /// responses to `+` challenges are not command lines, so RFC 2449's 255 does not bound them
    /// (RFC 5034 §4); RFC 5034 §4 does tell clients to keep `AUTH` with an initial response
    /// within 255 octets, but we accept more there too, as Dovecot does. 12288 is SMTP's
    /// RFC 4954 §4 figure and fits any PLAIN or SCRAM message `MailAuth` accepts.
    public static let maxAuthLineLength = 12288

    /// The longest response line we send, CRLF included (RFC 2449 §4: 512 octets). Response
    /// texts are ours; longer ones are cut.
    public static let maxResponseLineLength = 512

    /// The longest SASL mechanism name (RFC 4422 §3.1, `sasl-mech = 1*20mech-char`).
    public static let maxSASLMechanismLength = 20

    /// The longest parameter RFC 2449 §4 allows: the whole line minus keyword, SP and CRLF.
    public static let maxParameterLength = 255

    /// Digits of a message number or line count that are read exactly; longer numbers saturate
    /// at `Int.max` (no mailbox holds that many messages, no message that many lines).
    public static let maxExactNumberDigits = 18
}
