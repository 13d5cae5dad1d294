import LineFraming
/// An extended response code, RFC 2449 §8, sent in square brackets right after `-ERR` so that
/// a client can tell a bad password from a locked or broken mailbox:
///
///     resp-code  = "[" resp-level *("/" resp-level) "]"
///     resp-level = 1*rchar
///     rchar      = %x21-2E / %x30-5C / %x5E-7F    ; printable ASCII, except "/" and "]"
public enum POP3ResponseCode: String, Sendable, Hashable, CaseIterable {
    /// RFC 3206 §4: the credentials are wrong, or policy refuses them (plaintext over an
    /// unencrypted connection): retrying the same credentials will not help.
    case auth = "AUTH"
    /// RFC 3206 §5: a temporary system problem (storage unavailable); retrying later may work.
    case sysTemp = "SYS/TEMP"
    /// RFC 3206 §5: a permanent system problem the user cannot fix without the administrator.
    case sysPerm = "SYS/PERM"
    /// RFC 2449 §8.1.2: the maildrop is locked by another session. Swallow lets several POP3
    /// sessions open one maildrop (as Dovecot does by default), so it never sends this.
    case inUse = "IN-USE"
    /// RFC 2449 §8.1.1: logging in again so soon is refused. Swallow sets no login delay.
    case loginDelay = "LOGIN-DELAY"
    /// RFC 6856 §3: the command needs the UTF8 extension. Not offered; listed for completeness.
    case utf8 = "UTF8"
}

/// One single-line POP3 response (RFC 1939 §3, RFC 2449 §3) or SASL challenge (RFC 5034 §4):
///
///     single-line = status [SP text] CRLF          ; 512 octets maximum
///     status      = "+OK" / "-ERR"
///     text        = *schar / resp-code *CHAR
///     schar       = %x21-5A / %x5C-7F              ; printable ASCII, except "["
///     challenge   = "+" SP [base64] CRLF            ; RFC 5034 §4
///
/// A multi-line response (RFC 1939 §3) is a `+OK` line followed by dot-stuffed lines and the
/// terminating `.CRLF`: see `encodeMultiline(_:lines:into:)` and `POP3DotStuffer`.
public struct POP3Response: Sendable, Hashable, CustomStringConvertible {
    public enum Status: Sendable, Hashable {
        /// `+OK`
        case ok
        /// `-ERR`
        case error
        /// `+ ` followed by a base64 challenge (RFC 5034 §4).
        case challenge
    }

    public var status: Status
    /// Only on `-ERR` (RFC 2449 §8 puts codes after either status, but RFC 3206's are for errors).
    public var code: POP3ResponseCode?
    /// Human-readable text (or the base64 challenge). Control characters are sent as spaces.
    public var text: String

    public init(status: Status, code: POP3ResponseCode? = nil, text: String) {
        self.status = status
        self.code = status == .error ? code : nil
        self.text = text
    }

    /// `+OK text`.
    public static func ok(_ text: String = "") -> POP3Response { POP3Response(status: .ok, text: text) }
    /// `-ERR [code] text`.
    public static func error(_ code: POP3ResponseCode?, _ text: String) -> POP3Response {
        POP3Response(status: .error, code: code, text: text)
    }
    /// `-ERR text`.
    public static func error(_ text: String) -> POP3Response {
        POP3Response(status: .error, text: text)
    }
    /// `+ base64` — a SASL challenge (RFC 5034 §4); the empty challenge is `+ `.
    public static func challenge(_ base64: String) -> POP3Response { POP3Response(status: .challenge, text: base64) }

    public var isOK: Bool { status == .ok }

    /// The line as on the wire without CRLF.
    public var description: String { String(decoding: encoded.dropLast(2), as: UTF8.self) }

    /// Appends the wire form, CRLF included. Control characters in the text become spaces, so a
    /// response can never carry a CR or LF of its own; text that would make the line longer than
    /// `POP3Limits.maxResponseLineLength` is cut (RFC 2449 §4), except in a challenge, whose
    /// base64 must arrive whole.
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        switch status {
        case .ok: buffer.append(contentsOf: [0x2B, 0x4F, 0x4B])  // "+OK"
        case .error: buffer.append(contentsOf: [0x2D, 0x45, 0x52, 0x52])  // "-ERR"
        case .challenge: buffer.append(0x2B)  // "+"
        }
        if let code {
            buffer.append(ASCIIByte.sp)
            buffer.append(0x5B)  // "["
            buffer.append(contentsOf: code.rawValue.utf8)
            buffer.append(0x5D)  // "]"
        }
        // RFC 5034 §4: "+" SP, even for an empty challenge.
        if !text.isEmpty || status == .challenge { buffer.append(ASCIIByte.sp) }
        let limit = status == .challenge ? Int.max : start + POP3Limits.maxResponseLineLength - 2
        for scalar in text.unicodeScalars {
            if buffer.count + UTF8.width(scalar) > limit { break }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                buffer.append(ASCIIByte.sp)
            } else {
                buffer.append(contentsOf: String(scalar).utf8)
            }
        }
        buffer.append(ASCIIByte.cr)
        buffer.append(ASCIIByte.lf)
    }

    /// The wire form as a new array.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }

    /// Appends a multi-line response (RFC 1939 §3): this `+OK` line, then each of `lines`
    /// dot-stuffed and ended with CRLF, then the terminating `.CRLF`. Lines must not contain
    /// CR or LF (control characters become spaces) — for listings (CAPA, LIST, UIDL), not
    /// for message text, which goes through `POP3DotStuffer`.
    public func encodeMultiline(lines: [String], into buffer: inout [UInt8]) {
        encode(into: &buffer)
        for line in lines {
            // RFC 1939 §3: "If any line of the multi-line response begins with the termination
            // octet, the line is 'byte-stuffed' by pre-pending the termination octet".
            if line.utf8.first == ASCIIByte.dot { buffer.append(ASCIIByte.dot) }
            for b in line.utf8 { buffer.append(b < 0x20 || b == 0x7F ? ASCIIByte.sp : b) }
            buffer.append(ASCIIByte.cr)
            buffer.append(ASCIIByte.lf)
        }
        buffer.append(contentsOf: POP3DotStuffer.terminator)
    }

    /// A multi-line response as a new array.
    public func encodedMultiline(lines: [String]) -> [UInt8] {
        var buffer: [UInt8] = []
        encodeMultiline(lines: lines, into: &buffer)
        return buffer
    }
}
