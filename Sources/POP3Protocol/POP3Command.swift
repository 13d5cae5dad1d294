import LineFraming
/// One POP3 command as the server receives it: RFC 1939 §§4-7, with CAPA (RFC 2449 §5),
/// STLS (RFC 2595 §4) and AUTH (RFC 5034 §4).
///
/// The general grammar (RFC 2449 §3, which collects RFC 1939's prose into ABNF):
///
///     command  = keyword *(SP param) CRLF    ; 255 octets maximum (RFC 2449 §4)
///     keyword  = 3*4VCHAR                    ; case-insensitive (RFC 1939 §3)
///     param    = 1*VCHAR
///     msg      = 1*DIGIT                     ; a message number, 1 ... n (RFC 1939 §5)
///
/// Message numbers and line counts are returned as `Int`, saturated at `Int.max` when a client
/// sends more digits than fit: no such message exists, so the session answers "no such message"
/// instead of the parser failing on an overflow. Unknown keywords are a parse error, never a
/// case of this enum.
public enum POP3Command: Sendable, Hashable {
    /// `USER SP name` — RFC 1939 §7. `name` is one parameter (the login, an email address).
    case user(String)
    /// `PASS SP string` — RFC 1939 §7. RFC 1939 lets the server treat spaces as part of the
    /// password, so `password` is everything after the first SP, exactly as sent (never empty).
    case pass(String)
    /// `APOP SP name SP digest` — RFC 1939 §7. Recognised so that it gets a precise refusal:
    /// APOP needs the password in clear (or an MD5-equivalent) on the server, and we store
    /// only crypt(3) hashes and SCRAM keys (DESIGN.md §4).
    case apop(name: String, digest: String)
    /// `STAT` — RFC 1939 §5.
    case stat
    /// `LIST [SP msg]` — RFC 1939 §5.
    case list(Int?)
    /// `RETR SP msg` — RFC 1939 §5.
    case retr(Int)
    /// `DELE SP msg` — RFC 1939 §5.
    case dele(Int)
    /// `NOOP` — RFC 1939 §5.
    case noop
    /// `RSET` — RFC 1939 §5.
    case rset
    /// `QUIT` — RFC 1939 §4 (AUTHORIZATION) and §6 (the UPDATE state).
    case quit
    /// `TOP SP msg SP n` — RFC 1939 §7: the header, the blank line and `n` lines of the body
    /// (`n` is non-negative).
    case top(Int, lines: Int)
    /// `UIDL [SP msg]` — RFC 1939 §7.
    case uidl(Int?)
    /// `CAPA` — RFC 2449 §5.
    case capa
    /// `STLS` — RFC 2595 §4.
    case stls
    /// `AUTH [SP mechanism [SP initial-response]]` — RFC 5034 §4:
    ///
    ///     auth-command     = "AUTH" SP sasl-mech [SP initial-response]
    ///     sasl-mech        = 1*20mech-char          ; RFC 4422 §3.1
    ///     initial-response = base64 / "="
    ///
    /// `mechanism` is uppercased. A bare `AUTH` (nil mechanism) is the pre-RFC 5034 way of asking
    /// for the mechanism list, which Outlook and other old clients still send; servers such as
    /// Dovecot answer it with a multi-line list, and so do we. `initialResponse` is base64 text
    /// (syntax checked, not decoded) or `"="`, which means an empty initial response.
    case auth(mechanism: String?, initialResponse: String?)

    /// The keyword as sent on the wire, for logs and metrics (never the arguments: PASS).
    public var keyword: String {
        switch self {
        case .user: "USER"
        case .pass: "PASS"
        case .apop: "APOP"
        case .stat: "STAT"
        case .list: "LIST"
        case .retr: "RETR"
        case .dele: "DELE"
        case .noop: "NOOP"
        case .rset: "RSET"
        case .quit: "QUIT"
        case .top: "TOP"
        case .uidl: "UIDL"
        case .capa: "CAPA"
        case .stls: "STLS"
        case .auth: "AUTH"
        }
    }

    /// The command line as a client sends it, CRLF included; nil when the arguments cannot be
    /// sent (a control character, a space in a one-word argument). Used by clients in tests and
    /// for the parser's round-trip property.
    public var encoded: [UInt8]? {
        func oneWord(_ s: String) -> Bool {
            !s.isEmpty && !s.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
        }
        let line: String
        switch self {
        case .user(let name):
            guard oneWord(name) else { return nil }
            line = "USER \(name)"
        case .pass(let password):
            guard !password.isEmpty, !password.utf8.contains(where: { ($0 < 0x20) || $0 == 0x7F }) else { return nil }
            line = "PASS \(password)"
        case .apop(let name, let digest):
            guard oneWord(name), oneWord(digest) else { return nil }
            line = "APOP \(name) \(digest)"
        case .stat: line = "STAT"
        case .list(let n): line = n.map { "LIST \($0)" } ?? "LIST"
        case .retr(let n): line = "RETR \(n)"
        case .dele(let n): line = "DELE \(n)"
        case .noop: line = "NOOP"
        case .rset: line = "RSET"
        case .quit: line = "QUIT"
        case .top(let n, let lines): line = "TOP \(n) \(lines)"
        case .uidl(let n): line = n.map { "UIDL \($0)" } ?? "UIDL"
        case .capa: line = "CAPA"
        case .stls: line = "STLS"
        case .auth(let mechanism, let initial):
            guard let mechanism else {
                guard initial == nil else { return nil }
                line = "AUTH"
                break
            }
            guard oneWord(mechanism) else { return nil }
            if let initial {
                guard oneWord(initial) else { return nil }
                line = "AUTH \(mechanism) \(initial)"
            } else {
                line = "AUTH \(mechanism)"
            }
        }
        return Array(line.utf8) + [ASCIIByte.cr, ASCIIByte.lf]
    }
}
