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

// MARK: - Byte constants and scanning helpers (internal)

@usableFromInline let asciiCR: UInt8 = 0x0D
@usableFromInline let asciiLF: UInt8 = 0x0A
@usableFromInline let asciiSP: UInt8 = 0x20
@usableFromInline let asciiHT: UInt8 = 0x09
@usableFromInline let asciiDot: UInt8 = 0x2E

@inline(__always)
func zeroByteMask(_ v: UInt64) -> UInt64 {
    // Classic SWAR "has zero byte": the lowest set 0x80 bit marks the first zero byte exactly
    // (false positives can only appear above a true zero byte, because they come from borrows).
    (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
}

/// Index of the first LF in `p[start..<end]`, or `end`.
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

/// Index of the first CR or LF in `p[start..<end]`, or `end`.
@inline(__always)
func firstCROrLF(_ p: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
    guard let base = p.baseAddress else { return end }
    var i = start
    let raw = UnsafeRawPointer(base)
    while i &+ 8 <= end {
        let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        // The OR of two masks still has its lowest bit at a true match: a false positive in one
        // mask lies above a true match in that same mask.
        let m = zeroByteMask(w ^ 0x0A0A_0A0A_0A0A_0A0A) | zeroByteMask(w ^ 0x0D0D_0D0D_0D0D_0D0D)
        if m != 0 { return i &+ (m.trailingZeroBitCount >> 3) }
        i &+= 8
    }
    while i < end {
        let b = base[i]
        if b == asciiLF || b == asciiCR { return i }
        i &+= 1
    }
    return end
}

@inline(__always)
func withBytes<R>(_ raw: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    body(raw.assumingMemoryBound(to: UInt8.self))
}

@inline(__always)
func asciiUpper(_ b: UInt8) -> UInt8 {
    (b >= 0x61 && b <= 0x7A) ? b &- 0x20 : b
}

@inline(__always)
func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

/// Case-insensitive comparison of ASCII bytes with an uppercase ASCII literal.
func equalsUppercased(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ upper: StaticString) -> Bool {
    guard range.count == upper.utf8CodeUnitCount else { return false }
    let u = upper.utf8Start
    var k = 0
    for i in range {
        if asciiUpper(bytes[i]) != u[k] { return false }
        k += 1
    }
    return true
}

/// A UTF-8 validated `String` of `bytes[range]`, or nil.
func validatedString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
    String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
}

/// A `String` of ASCII bytes already checked by the caller.
func asciiString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
}

/// RFC 4648 §4 base64 syntax as RFC 4954 §4 uses it: groups of four, padding only at the end.
/// The empty string is valid (an empty SASL response).
func isValidBase64(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
    let n = range.count
    guard n % 4 == 0 else { return false }
    var padding = 0
    for i in range {
        let b = bytes[i]
        if b == 0x3D {  // "="
            padding += 1
            // Padding only in the last two positions, and nothing but padding after it.
            if i < range.upperBound - 2 { return false }
        } else {
            if padding > 0 { return false }
            guard isAlpha(b) || isDigit(b) || b == 0x2B || b == 0x2F else { return false }
        }
    }
    return padding <= 2
}
