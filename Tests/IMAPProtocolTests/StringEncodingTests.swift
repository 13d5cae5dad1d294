import Testing
@testable import IMAPProtocol

/// Choosing atom, quoted string, literal or NIL (RFC 9051 §4.3, §4.5, §9).
@Suite struct StringEncodingTests {
    static func astring(_ s: [UInt8], utf8: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        IMAPEncoder.appendAString(s, to: &out, utf8: utf8)
        return out
    }

    static func string(_ s: [UInt8], utf8: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        IMAPEncoder.appendString(s, to: &out, utf8: utf8)
        return out
    }

    @Test func atoms() {
        #expect(Self.astring(bytes("INBOX")) == bytes("INBOX"))
        #expect(Self.astring(bytes("a]b")) == bytes("a]b"))
        #expect(Self.astring(bytes("Sent Items")) == bytes("\"Sent Items\""))
        #expect(Self.astring(bytes("")) == bytes("\"\""))
        #expect(Self.astring(bytes("nil")) == bytes("\"nil\""))
        for special in ["(", ")", "{", "%", "*", "\"", "\\"] {
            #expect(Self.astring(bytes("a\(special)b")).first == ASCII.dquote, "\(special)")
        }
    }

    @Test func quoted() {
        #expect(Self.string(bytes("hello")) == bytes("\"hello\""))
        #expect(Self.string(bytes("say \"hi\" \\o/")) == bytes("\"say \\\"hi\\\" \\\\o/\""))
        #expect(Self.string(bytes("tab\there")) == bytes("\"tab\there\""))
        #expect(Self.string(bytes("")) == bytes("\"\""))
    }

    @Test func literals() {
        #expect(Self.string(bytes("two\r\nlines")) == bytes("{10}\r\ntwo\r\nlines"))
        #expect(Self.string(bytes("bare\nlf")) == bytes("{7}\r\nbare\nlf"))
        #expect(Self.string([0x61, 0x00]) == [0x7B, 0x32, 0x7D, 0x0D, 0x0A, 0x61, 0x00])
        let long = [UInt8](repeating: 0x61, count: IMAPEncoder.maxQuotedLength + 1)
        #expect(Self.string(long) == bytes("{1025}\r\n") + long)
        #expect(Self.string([UInt8](repeating: 0x61, count: IMAPEncoder.maxQuotedLength)).first == ASCII.dquote)
    }

    @Test func utf8() {
        let word = bytes("Gr\u{00FC}\u{00DF}e")
        #expect(Self.string(word) == bytes("{7}\r\n") + word)
        #expect(Self.string(word, utf8: true) == bytes("\"") + word + bytes("\""))
        // Invalid UTF-8 is never quoted.
        #expect(Self.string([0x61, 0xFF], utf8: true) == bytes("{2}\r\n") + [0x61, 0xFF])
        #expect(Self.astring(bytes("\u{65E5}\u{672C}"), utf8: true) == bytes("\"\u{65E5}\u{672C}\""))
    }

    @Test func numbers() {
        for n: UInt64 in [0, 1, 9, 10, 99, 100, 4_294_967_295, 9_223_372_036_854_775_807, UInt64.max] {
            var out: [UInt8] = []
            IMAPEncoder.appendNumber(n, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(n))
        }
    }
}
