import Foundation

/// SASLprep (RFC 4013), the stringprep profile (RFC 3454) SCRAM applies to passwords before
/// hashing them (RFC 5802 §2.2 "Normalize"), so that the same password typed on two keyboards
/// (a no-break space, a precomposed "é" versus "e" + combining accent) gives the same key.
///
/// This is a faithful subset: the mapping (RFC 4013 §2.1), NFKC normalisation (§2.2), the
/// prohibited-output tables (§2.3) and the unassigned-code-point check for stored strings
/// (§2.5, against the Unicode version of the running Swift rather than Unicode 3.2). The
/// bidirectional check (§2.4, RFC 3454 §6) is not done: it needs the bidi class of every code
/// point, which neither the standard library nor Foundation exposes.
public enum SASLprep {
    /// Prepares `string` as a stored string, or returns `nil` if it contains a prohibited or
    /// unassigned code point.
    ///
    /// A caller that sets passwords (e.g. `swallow user add`) should refuse a password for which
    /// this returns `nil`; `SCRAMCredentials.derive` falls back to the raw UTF-8 bytes instead.
    public static func prepare(_ string: String) -> String? {
        // RFC 4013 §2.1: "commonly mapped to nothing" (RFC 3454 B.1) is removed first, then
        // non-ASCII space (C.1.2) becomes U+0020. U+200B is in both tables; removing it first
        // is what every common implementation does.
        var mapped = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if isMappedToNothing(scalar.value) { continue }
            mapped.append(isNonASCIISpace(scalar.value) ? " " : scalar)
        }
        // RFC 4013 §2.2: Unicode normalisation form KC.
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        // RFC 4013 §2.3 and §2.5.
        for scalar in normalized.unicodeScalars {
            if isProhibited(scalar) { return nil }
        }
        return normalized
    }

    /// RFC 3454 Table B.1.
    static func isMappedToNothing(_ v: UInt32) -> Bool {
        switch v {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060,
            0xFE00...0xFE0F, 0xFEFF:
            return true
        default:
            return false
        }
    }

    /// RFC 3454 Table C.1.2.
    static func isNonASCIISpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// RFC 4013 §2.3 (tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9) and §2.5
    /// (unassigned code points are prohibited in stored strings, RFC 5802 §2.2).
    static func isProhibited(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if isNonASCIISpace(v) { return true }  // C.1.2 (cannot survive the mapping, kept for clarity)
        switch v {
        case 0x0000...0x001F, 0x007F:  // C.2.1 ASCII control
            return true
        case 0x0080...0x009F, 0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029,
            0x2060...0x2063, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A:  // C.2.2
            return true
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD:  // C.3 private use
            return true
        case 0xFDD0...0xFDEF:  // C.4 non-characters (the rest: the xxFFFE/xxFFFF pairs below)
            return true
        case 0xD800...0xDFFF:  // C.5 surrogates (a Swift String cannot hold them; for completeness)
            return true
        case 0xFFF9...0xFFFD:  // C.6 inappropriate for plain text
            return true
        case 0x2FF0...0x2FFB:  // C.7 inappropriate for canonical representation
            return true
        case 0x0340, 0x0341, 0x200E, 0x200F, 0x202A...0x202E:  // C.8 (0x206A-0x206F above)
            return true
        case 0xE0001, 0xE0020...0xE007F:  // C.9 tagging
            return true
        default:
            break
        }
        if v & 0xFFFE == 0xFFFE { return true }  // C.4: U+FFFE, U+FFFF, U+1FFFE, ... U+10FFFF
        return scalar.properties.generalCategory == .unassigned
    }
}
