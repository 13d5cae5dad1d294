import Testing
@testable import Filters

/// Header and body edits as libmilter documents them (smfi_addheader, smfi_chgheader,
/// smfi_insheader, smfi_replacebody), with our Received: field hidden from the index count.
@Suite("milter message edits")
struct MilterMessageTests {
    static let text = "Received: from c by mx; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        + "Received: from elsewhere\r\n"
        + "Subject: one\r\n\ttwo\r\n"
        + "X-Tag: a\r\nX-Tag: b\r\n\r\nbody\r\n"

    static func message() -> MilterMessage { MilterMessage(Array(text.utf8), hiddenFields: 1) }
    static func string(_ m: MilterMessage) -> String { String(decoding: m.bytes, as: UTF8.self) }

    @Test func parsesAndRebuilds() {
        let m = Self.message()
        #expect(m.fields.map(\.name) == ["Received", "Received", "Subject", "X-Tag", "X-Tag"])
        #expect(m.fields.map(\.hidden) == [true, false, false, false, false])
        #expect(m.body == Array("body\r\n".utf8))
        #expect(Self.string(m) == Self.text)
        #expect(m.headerCommands(leadingSpace: false).first == .header(name: "Received", value: Array("from elsewhere".utf8)),
                "our own field is not shown")
        // Text that is no field ends the header, as the body.
        let odd = MilterMessage(Array("A: 1\r\nnot a field\r\nB: 2\r\n".utf8))
        #expect(odd.fields.map(\.name) == ["A"] && odd.separator.isEmpty)
        #expect(String(decoding: odd.bytes, as: UTF8.self) == "A: 1\r\nnot a field\r\nB: 2\r\n")
        #expect(MilterMessage(Array("A: 1\r\n".utf8)).body.isEmpty)
    }

    @Test func addInsertChange() {
        var m = Self.message()
        m.apply(.addHeader(name: "X-Added", value: Array("yes".utf8)), leadingSpace: false)
        m.apply(.insertHeader(index: 0, name: "X-Top", value: Array("first".utf8)), leadingSpace: false)
        m.apply(.insertHeader(index: 99, name: "X-Last", value: Array("end".utf8)), leadingSpace: false)
        // Index 1 of Received: the one the filter saw, not ours.
        m.apply(.changeHeader(index: 1, name: "received", value: Array("changed".utf8)), leadingSpace: false)
        m.apply(.changeHeader(index: 2, name: "X-Tag", value: []), leadingSpace: false)
        m.apply(.changeHeader(index: 3, name: "X-Tag", value: Array("c".utf8)), leadingSpace: false)
        m.apply(.changeHeader(index: 5, name: "X-None", value: []), leadingSpace: false)
        #expect(Self.string(m) == "X-Top: first\r\n"
            + "Received: from c by mx; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            + "Received: changed\r\n"
            + "Subject: one\r\n\ttwo\r\n"
            + "X-Tag: a\r\nX-Added: yes\r\nX-Last: end\r\nX-Tag: c\r\n\r\nbody\r\n")
    }

    /// Values from a filter cannot end the header or start fields of their own, and never carry
    /// a bare LF into the stored message.
    @Test func valuesAreMadeSafe() {
        #expect(MilterMessage.field(name: "DKIM-Signature", value: Array("v=1;\n\tb=abc\n\t def".utf8), leadingSpace: false).raw
            == Array("DKIM-Signature: v=1;\r\n\tb=abc\r\n\t def\r\n".utf8))
        #expect(MilterMessage.field(name: "X", value: Array("a\r\n\r\nInjected: 1\rb".utf8), leadingSpace: false).raw
            == Array("X: a\r\n\tInjected: 1\r\n\tb\r\n".utf8))
        #expect(MilterMessage.field(name: "X", value: Array(" kept".utf8), leadingSpace: true).raw == Array("X: kept\r\n".utf8))
    }

    @Test func replacesBody() {
        var m = Self.message()
        m.replaceBody([Array("new\nbody\r".utf8), Array("\nend\rx".utf8)])
        #expect(m.body == Array("new\r\nbody\r\nend\r\nx".utf8), "CRLF across chunks, bare CR and LF made CRLF")
        var headerOnly = MilterMessage(Array("A: 1\r\n".utf8))
        headerOnly.replaceBody([Array("b\r\n".utf8)])
        #expect(String(decoding: headerOnly.bytes, as: UTF8.self) == "A: 1\r\n\r\nb\r\n")
    }
}
