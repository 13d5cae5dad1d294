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

// MARK: - Byte constants and scanning helpers (internal)

@usableFromInline let asciiCR: UInt8 = 0x0D
@usableFromInline let asciiLF: UInt8 = 0x0A
@usableFromInline let asciiSP: UInt8 = 0x20
@usableFromInline let asciiHT: UInt8 = 0x09
@usableFromInline let asciiDot: UInt8 = 0x2E

@inline(__always)
func zeroByteMask(_ v: UInt64) -> UInt64 {
    // SWAR "has zero byte": the lowest set 0x80 bit marks the first zero byte exactly (false
    // positives can only appear above a true zero byte, because they come from borrows).
    (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
}

/// Index of the first LF in `p[start..<end]`, or `end`. Eight bytes at a time: messages sent by
/// RETR go through this, so it is on the hot path for large mailboxes.
@inline(__always)
func firstLF(_ p: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
    guard let base = p.baseAddress else { return end }
    var i = start
    let raw = UnsafeRawPointer(base)
    while i &+ 8 <= end {
        let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let m = zeroByteMask(w ^ 0x0A0A_0A0A_0A0A_0A0A)
        if m != 0 { return i &+ (m.trailingZeroBitCount >> 3) }
        i &+= 8
    }
    while i < end {
        if base[i] == asciiLF { return i }
        i &+= 1
    }
    return end
}

@inline(__always)
func asciiUpper(_ b: UInt8) -> UInt8 {
    (b >= 0x61 && b <= 0x7A) ? b &- 0x20 : b
}

@inline(__always)
func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

/// C0 controls and DEL: never allowed in a parameter.
@inline(__always)
func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

/// A UTF-8 validated `String` of `bytes[range]`, or nil.
func validatedString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
    String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
}

/// A `String` of ASCII bytes already checked by the caller.
func asciiString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
}

/// RFC 4648 §4 base64 syntax as RFC 5034 §4 uses it: groups of four, padding only at the end.
/// The empty string is valid (an empty SASL response).
func isValidBase64(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    guard range.count % 4 == 0 else { return false }
    var padding = 0
    for i in range {
        let b = bytes[i]
        if b == 0x3D {  // "="
            padding += 1
            if i < range.upperBound - 2 { return false }
        } else {
            if padding > 0 { return false }
            guard isAlpha(b) || isDigit(b) || b == 0x2B || b == 0x2F else { return false }
        }
    }
    return padding <= 2
}
