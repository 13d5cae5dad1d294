/// RFC 2047 encoded words ("MIME Part Three: Message Header Extensions for Non-ASCII Text").
///
/// ```
/// ; RFC 2047 §2, with the RFC 2231 §5 language suffix
/// encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
/// charset      = token [ "*" language ]
/// encoding     = token                 ; "B" (RFC 2047 §4.1) or "Q" (§4.2)
/// encoded-text = 1*<Any printable ASCII character other than "?" or SPACE>
/// ```
public enum EncodedWord {
    /// RFC 2047 §2 limits a word to 75 characters; broken generators exceed that, so we accept
    /// longer words, but bound how far we look for the closing "?=".
    public static let maxEncodedWordLength = 2048

    /// Decodes every encoded word in unstructured text or a phrase.
    ///
    /// Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2), and adjacent
    /// words in the same charset are decoded together, so a multi-byte character split across
    /// two words still comes out whole. A word whose charset is unknown, whose encoding is not
    /// B or Q, or whose payload is malformed is left exactly as it was.
    public static func decode(_ s: String) -> String {
        let bytes = Array(s.utf8)
        guard bytes.count >= 8, containsWordStart(bytes) else { return s }

        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var pendingCharset: MailCharset.Kind? = nil
        var pendingCharsetName = ""
        var pending: [UInt8] = []
        var lastWasEncoded = false

        func flushPending() {
            if let kind = pendingCharset {
                out += Array(MailCharset.decode(pending, kind: kind).utf8)
            }
            pendingCharset = nil
            pending.removeAll(keepingCapacity: true)
        }

        var i = 0
        while i < bytes.count {
            if let word = parseWord(bytes, at: i) {
                if pendingCharset != nil && MailSyntax.equalsIgnoringASCIICase(pendingCharsetName, word.charsetName) {
                    pending += word.payload
                } else {
                    flushPending()
                    pendingCharset = word.kind
                    pendingCharsetName = word.charsetName
                    pending = word.payload
                }
                lastWasEncoded = true
                i = word.end
                continue
            }
            let b = bytes[i]
            if lastWasEncoded && MailSyntax.isWhitespace(b) {
                var k = i
                while k < bytes.count && MailSyntax.isWhitespace(bytes[k]) { k += 1 }
                if parseWord(bytes, at: k) != nil {
                    // RFC 2047 §6.2: whitespace between adjacent encoded words is not displayed.
                    i = k
                    continue
                }
                flushPending()
                out += bytes[i..<k]
                lastWasEncoded = false
                i = k
                continue
            }
            flushPending()
            lastWasEncoded = false
            out.append(b)
            i += 1
        }
        flushPending()
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes `s` as a sequence of UTF-8 "B" encoded words (RFC 2047 §4.1) of at most 75
    /// characters each, separated by CRLF SP folding points when `fold` is true, otherwise by
    /// a single space. Pure-ASCII printable input without "=?" is returned unchanged.
    public static func encode(_ s: String, fold: Bool = false) -> String {
        let needs = s.utf8.contains { $0 >= 0x80 || ($0 < 0x20 && $0 != 0x09) } || s.contains("=?")
        guard needs else { return s }
        // "=?UTF-8?B?" + "?=" is 12 characters, leaving 63 base64 characters: 45 input bytes.
        let maxChunk = 45
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in s.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            if chunk.count + encoded.count > maxChunk {
                words.append("=?UTF-8?B?" + MIMEBase64.encode(chunk) + "?=")
                chunk.removeAll()
            }
            chunk += encoded
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + MIMEBase64.encode(chunk) + "?=") }
        return words.joined(separator: fold ? "\r\n " : " ")
    }

    struct Word {
        var kind: MailCharset.Kind
        var charsetName: String
        var payload: [UInt8]
        var end: Int
    }

    private static func containsWordStart(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "=") && bytes[i + 1] == UInt8(ascii: "?") { return true }
            i += 1
        }
        return false
    }

    /// Parses an encoded word starting exactly at `start`; nil if there is none there or it
    /// cannot be decoded (the caller then keeps the text verbatim).
    static func parseWord(_ bytes: [UInt8], at start: Int) -> Word? {
        let n = bytes.count
        guard start + 1 < n, bytes[start] == UInt8(ascii: "="), bytes[start + 1] == UInt8(ascii: "?") else {
            return nil
        }
        let limit = min(n, start + maxEncodedWordLength)
        var i = start + 2
        let charsetStart = i
        while i < limit, isTokenByte(bytes[i]) { i += 1 }
        guard i < limit, i > charsetStart, bytes[i] == UInt8(ascii: "?") else { return nil }
        var charsetBytes = bytes[charsetStart..<i]
        if let star = charsetBytes.firstIndex(of: UInt8(ascii: "*")) {
            charsetBytes = charsetBytes[..<star]  // RFC 2231 §5: "charset*language"
        }
        let charsetName = String(decoding: charsetBytes, as: UTF8.self)
        guard let kind = MailCharset.kind(of: charsetName) else { return nil }
        i += 1
        guard i + 1 < limit, bytes[i + 1] == UInt8(ascii: "?") else { return nil }
        let encoding = MailSyntax.asciiLower(bytes[i])
        guard encoding == UInt8(ascii: "b") || encoding == UInt8(ascii: "q") else { return nil }
        i += 2
        let textStart = i
        while i < limit {
            let b = bytes[i]
            if b == UInt8(ascii: "?") { break }
            guard b > 0x20 && b < 0x7F else { return nil }
            i += 1
        }
        guard i + 1 < limit, bytes[i + 1] == UInt8(ascii: "=") else { return nil }
        let text = bytes[textStart..<i]
        let payload: [UInt8]
        if encoding == UInt8(ascii: "b") {
            guard let decoded = TransferEncoding.decodeBase64(text) else { return nil }
            payload = decoded
        } else {
            payload = decodeQ(text)
        }
        return Word(kind: kind, charsetName: charsetName, payload: payload, end: i + 2)
    }

    /// RFC 2047 §4.2: "_" is SPACE, "=XX" is a byte; a stray "=" is kept as it is.
    static func decodeQ(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            let b = text[i]
            if b == UInt8(ascii: "_") {
                out.append(0x20)
            } else if b == UInt8(ascii: "="), i + 2 < text.endIndex,
                let hi = MailSyntax.hexValue(text[i + 1]), let lo = MailSyntax.hexValue(text[i + 2])
            {
                out.append(hi << 4 | lo)
                i += 3
                continue
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }

    /// RFC 2045 §5.1 token characters (no SPACE, CTLs or tspecials), minus "?" which delimits.
    static func isTokenByte(_ b: UInt8) -> Bool {
        guard b > 0x20 && b < 0x7F else { return false }
        switch b {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
            UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return true
        }
    }
}
