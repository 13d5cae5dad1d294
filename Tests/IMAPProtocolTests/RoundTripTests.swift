import Testing
@testable import IMAPProtocol

/// What the encoder writes, the parser reads back unchanged: sequence sets, sections, flags,
/// mailbox names and strings (DESIGN.md §5.9).
@Suite struct RoundTripTests {
    @Test func sequenceSets() {
        var rng = SeededRNG(seed: 3)
        for _ in 0..<500 {
            var elements: [SequenceSet.Element] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                func n() -> SequenceNumber {
                    Int.random(in: 0..<8, using: &rng) == 0 ? .last : .number(UInt32.random(in: 1...UInt32.max, using: &rng))
                }
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: elements.append(.savedResult)
                case 1, 2, 3: elements.append(.single(n()))
                default: elements.append(.range(from: n(), to: n()))
                }
            }
            let set = SequenceSet(elements)
            #expect(parseOne("a UID FETCH \(set) FLAGS\r\n") == .fetch(set, attributes: [.flags], modifiers: [], uid: true))
            // Through the encoder (VANISHED uses the same writer as every response).
            let encoded = IMAPEncoder().encode(.untagged(.vanished(earlier: false, set)))
            #expect(String(decoding: encoded, as: UTF8.self) == "* VANISHED \(set)\r\n")
        }
    }

    @Test func sections() {
        let sections: [SectionSpec] = [
            .complete, .header, .text, SectionSpec(part: [1]), SectionSpec(part: [1, 2, 3], text: .mime),
            SectionSpec(part: [2], text: .headerFields(["From", "X Y", "Subject"])),
            SectionSpec(text: .headerFieldsNot(["Received", "DKIM-Signature"])),
            SectionSpec(part: [4, 1], text: .text), SectionSpec(part: [9], text: .header),
        ]
        for s in sections {
            // The FETCH response's section names the section the client asked for.
            #expect(parseOne("a FETCH 1 BODY.PEEK[\(s)]\r\n") == .fetch(SequenceSet([one(1)]), attributes: [.bodySection(s, partial: nil, peek: true)], modifiers: [], uid: false))
            let response = String(decoding: IMAPEncoder().encode(.untagged(.fetch(1, [.bodySection(s, data: nil)]))), as: UTF8.self)
            #expect(response == "* 1 FETCH (BODY[\(s)] NIL)\r\n")
        }
    }

    @Test func flags() {
        let flags: [MessageFlag] = [.answered, .flagged, .deleted, .seen, .draft, .forwarded, .mdnSent, .junk, .notJunk,
                                    .phishing, .keyword("NonJunk"), .keyword("$label1"), .extension("Important")]
        var out: [UInt8] = []
        IMAPEncoder.appendFlagList(flags, to: &out)
        let text = String(decoding: out, as: UTF8.self)
        #expect(parseOne("a STORE 1 FLAGS \(text)\r\n") == .store(SequenceSet([one(1)]), unchangedSince: nil,
                                                                   StoreAction(operation: .replace, flags: flags), uid: false))
        for f in flags { #expect(MessageFlag(f.description) == f) }
    }

    @Test func mailboxNamesAndStrings() {
        var rng = SeededRNG(seed: 11)
        let alphabet = bytes("abcXYZ019 ()[]{}%*\"\\/.&-~+$") + bytes("\u{00FC}\u{65E5}") + [0x0D, 0x0A, 0x09]
        for k in 0..<400 {
            let name = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let utf8 = k % 2 == 0
            var encoded: [UInt8] = []
            IMAPEncoder.appendAString(name, to: &encoded, utf8: utf8)
            let results = Driver.run(bytes("a SELECT ") + encoded + bytes("\r\n"))
            // A literal needs a continuation first; the command follows.
            #expect(results.last == cmd("a", .select(IMAPMailboxName(name), parameters: [])), "\(Fixture.label(encoded))")
            var search: [UInt8] = []
            IMAPEncoder.appendString(name, to: &search, utf8: utf8)
            #expect(Driver.run(bytes("b SEARCH TEXT ") + search + bytes("\r\n")).last
                == cmd("b", .search(SearchCommand(key: .text(name)), uid: false)))
        }
    }
}
