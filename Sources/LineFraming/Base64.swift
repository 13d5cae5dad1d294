/// Base64 (RFC 4648 §4) as SASL exchanges carry it (RFC 4954 §4, RFC 5034 §4, RFC 9051
/// §6.2.2): strict, padding required, no line breaks, no whitespace.
///
/// ```
/// base64          = *(4base64-char) [base64-terminal]
/// base64-char     = ALPHA / DIGIT / "+" / "/"
/// base64-terminal = (2base64-char "==") / (3base64-char "=")
/// ```
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// The encoded text as a `String` (base64 is ASCII).
    public static func encodedString<C: Collection<UInt8>>(_ data: C) -> String {
        String(decoding: encode(data), as: UTF8.self)
    }

    /// Decodes strict base64 text; `nil` when it is not valid.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? { decode(Array(text.utf8)) }

    public static func encode<C: Collection<UInt8>>(_ data: C) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var it = data.makeIterator()
        while let a = it.next() {
            let b = it.next(), c = it.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b == nil ? ASCIIByte.equals : alphabet[Int(n >> 6 & 63)])
            out.append(c == nil ? ASCIIByte.equals : alphabet[Int(n & 63)])
        }
        return out
    }

    /// Decodes strict base64; `nil` when the input is not valid (bad character, bad length,
    /// misplaced padding).
    public static func decode<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
        let bytes = Array(text)
        guard bytes.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var i = 0
        while i < bytes.count {
            let last = i + 4 == bytes.count
            var v: [UInt8] = [0, 0, 0, 0]
            var pad = 0
            for k in 0..<4 {
                let c = bytes[i + k]
                if c == ASCIIByte.equals {
                    // Padding only at the end, only in the last two positions, and contiguous.
                    guard last, k >= 2 else { return nil }
                    pad += 1
                } else {
                    guard pad == 0 else { return nil }
                    let d = decodeTable[Int(c)]
                    guard d != 0xFF else { return nil }
                    v[k] = d
                }
            }
            let n = UInt32(v[0]) << 18 | UInt32(v[1]) << 12 | UInt32(v[2]) << 6 | UInt32(v[3])
            out.append(UInt8(n >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}
