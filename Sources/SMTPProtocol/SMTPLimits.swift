/// Every bound the SMTP grammar enforces, in one place (DESIGN.md §4 "Bounded everything").
///
/// Configurable parsers (`SMTPCommandParser.Configuration`, `SMTPReplyParser.Configuration`)
/// take these as their documented defaults; the others are fixed by the RFCs cited.
public enum SMTPLimits {
    /// The smallest command line length a server must accept, including `<CRLF>`
    /// (RFC 5321 §4.5.3.1.4). Kept for reference: we accept more, see `maxCommandLineLength`.
    public static let rfcMinimumCommandLineLength = 512

    /// The longest command line we accept, including `<CRLF>`. RFC 5321 §4.5.3.1.4 lets
    /// extensions raise the 512 octet minimum; ESMTP parameters (SIZE, BODY, ENVID, ORCPT,
    /// NOTIFY, AUTH=...) and SMTPUTF8 addresses need the room.
    public static let maxCommandLineLength = 2048

    /// The longest `AUTH` command line and SASL response line, including `<CRLF>`
    /// (RFC 4954 §4: "a 12288 octet limit on the length of a command line").
    public static let maxAuthLineLength = 12288

    /// The longest SASL mechanism name (RFC 4422 §3.1, `sasl-mech = 1*20mech-char`).
    public static let maxSASLMechanismLength = 20

    /// The most digits `SIZE=` may carry (RFC 1870 §3: `size-value ::= 1*20DIGIT`).
    public static let maxSizeParameterDigits = 20

    /// The most digits a `BDAT` chunk size may carry. RFC 3030 §2 does not bound it; 18 digits
    /// always fit an `Int` on every platform Swift runs on with 64-bit `Int`, and no chunk that
    /// large could ever be accepted anyway.
    public static let maxBDATSizeDigits = 18

    /// The longest `ENVID=` value, xtext-encoded (RFC 3461 §4.4: "MUST NOT exceed 100 characters").
    public static let maxEnvelopeIDLength = 100

    /// The longest `ORCPT=` value, `addr-type;xtext` as sent (RFC 3461 §4.2: 500 characters).
    public static let maxOriginalRecipientLength = 500

    /// The longest reply line the reply parser accepts, including `<CRLF>`. RFC 5321 §4.5.3.1.5
    /// says 512; real servers send longer lines (long EHLO greetings, verbose rejections), so we
    /// tolerate eight times that and still stay bounded.
    public static let maxReplyLineLength = 4096

    /// The most lines one (multi-line) reply may have. An EHLO reply has about twenty.
    public static let maxReplyLines = 128
}
