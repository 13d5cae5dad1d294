/// Why a mailbox name is not valid modified UTF-7 (RFC 3501 §5.1.3).
public enum ModifiedUTF7Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// A byte outside printable US-ASCII (0x20...0x7E) appeared outside a shift sequence.
    case invalidCharacter(UInt8)
    /// "&" without a closing "-".
    case unterminatedShift
    /// A character outside the modified base64 alphabet, or a sequence that does not decode to
    /// whole UTF-16 units.
    case invalidBase64
    /// The UTF-16 inside a shift sequence has an unpaired surrogate.
    case invalidUTF16
    /// Valid but not the one canonical encoding: base64 used for printable ASCII, non-zero
    /// padding bits, or two shift sequences back to back.
    case nonCanonical

    public var description: String {
        switch self {
        case .invalidCharacter(let b): "invalid character 0x\(String(b, radix: 16)) in mailbox name"
        case .unterminatedShift: "unterminated \"&\" shift sequence"
        case .invalidBase64: "invalid modified base64 in shift sequence"
        case .invalidUTF16: "unpaired UTF-16 surrogate in shift sequence"
        case .nonCanonical: "mailbox name is not in canonical modified UTF-7"
        }
    }
}

/// IMAP's modified UTF-7 mailbox name encoding, RFC 3501 §5.1.3 (RFC 2152 UTF-7 with "&"
/// as the shift character and "," for "/").
///
/// ```
/// ; RFC 3501 §5.1.3 in words:
/// ; printable US-ASCII (0x20-0x7E) except "&" represents itself; "&" is "&-";
/// ; anything else is "&" modified-BASE64(UTF-16BE) "-", no "=" padding,
/// ; base64 alphabet A-Z a-z 0-9 + ,
/// ```
public enum ModifiedUTF7 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    private static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Encodes a mailbox name. Every string has exactly one encoding, which ``decode(_:)``
    /// accepts and maps back.
    public static func encode(_ s: String) -> String {
        var out: [UInt8] = []
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            out.append(UInt8(ascii: "&"))
            var bytes: [UInt8] = []
            for unit in pending {
                bytes.append(UInt8(unit >> 8))
                bytes.append(UInt8(unit & 0xFF))
            }
            var i = 0
            while i < bytes.count {
                let b0 = UInt32(bytes[i])
                let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
                let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
                let v = b0 << 16 | b1 << 8 | b2
                let available = min(3, bytes.count - i)
                out.append(alphabet[Int(v >> 18 & 63)])
                out.append(alphabet[Int(v >> 12 & 63)])
                if available >= 2 { out.append(alphabet[Int(v >> 6 & 63)]) }
                if available >= 3 { out.append(alphabet[Int(v & 63)]) }
                i += 3
            }
            out.append(UInt8(ascii: "-"))
            pending.removeAll()
        }
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if v >= 0x20 && v <= 0x7E {
                flush()
                out.append(UInt8(v))
                if v == 0x26 { out.append(UInt8(ascii: "-")) }  // "&" is written "&-"
            } else {
                pending.append(contentsOf: UTF16.encode(scalar)!)
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a mailbox name, rejecting anything that is not the canonical encoding of some
    /// string, so that two different wire names never denote the same mailbox.
    public static func decode(_ s: String) throws(ModifiedUTF7Error) -> String {
        let bytes = Array(s.utf8)
        var scalars = String.UnicodeScalarView()
        var i = 0
        var previousWasShift = false
        while i < bytes.count {
            let b = bytes[i]
            guard b >= 0x20 && b <= 0x7E else { throw .invalidCharacter(b) }
            guard b == UInt8(ascii: "&") else {
                scalars.append(Unicode.Scalar(b))
                previousWasShift = false
                i += 1
                continue
            }
            var j = i + 1
            while j < bytes.count && bytes[j] != UInt8(ascii: "-") {
                guard decodeTable[Int(bytes[j])] != 0xFF else {
                    let c = bytes[j]
                    throw (c >= 0x20 && c <= 0x7E) ? .invalidBase64 : .invalidCharacter(c)
                }
                j += 1
            }
            guard j < bytes.count else { throw .unterminatedShift }
            if j == i + 1 {
                scalars.append("&")
                previousWasShift = false
            } else {
                // RFC 2152 lets a run of non-ASCII be split, but then there are two encodings of
                // one name; the canonical form uses one shift sequence per run.
                if previousWasShift { throw .nonCanonical }
                for scalar in try decodeRun(bytes[(i + 1)..<j]) {
                    if scalar.value >= 0x20 && scalar.value <= 0x7E { throw .nonCanonical }
                    scalars.append(scalar)
                }
                previousWasShift = true
            }
            i = j + 1
        }
        return String(scalars)
    }

    private static func decodeRun(_ run: ArraySlice<UInt8>) throws(ModifiedUTF7Error) -> [Unicode.Scalar] {
        var bytes: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in run {
            acc = acc << 6 | UInt32(decodeTable[Int(c)])
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits: fewer than 6 and all zero, or the encoder was not the shortest one.
        if bits >= 6 { throw .invalidBase64 }
        guard bytes.count % 2 == 0 else { throw .invalidBase64 }
        if acc != 0 { throw .nonCanonical }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var k = 0
        while k < bytes.count {
            units.append(UInt16(bytes[k]) << 8 | UInt16(bytes[k + 1]))
            k += 2
        }
        var scalars: [Unicode.Scalar] = []
        var decoder = UTF16()
        var iterator = units.makeIterator()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let v): scalars.append(v)
            case .emptyInput: break loop
            case .error: throw .invalidUTF16
            }
        }
        return scalars
    }
}
