import Testing
@testable import IMAPProtocol

/// FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE / VANISHED).
@Suite struct FetchCommandTests {
    static let thunderbirdHeaders = ["From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Priority", "X-Priority",
                                     "References", "Newsgroups", "In-Reply-To", "Content-Type", "Reply-To"]
    static let muttHeaders = ["DATE", "FROM", "SENDER", "SUBJECT", "TO", "CC", "MESSAGE-ID", "REFERENCES", "CONTENT-TYPE",
                              "CONTENT-DESCRIPTION", "IN-REPLY-TO", "REPLY-TO", "LINES", "LIST-POST", "X-LABEL"]

    static func fetch(_ set: SequenceSet, _ atts: [FetchAttribute], _ mods: [FetchModifier] = [], uid: Bool = false) -> IMAPCommand {
        .fetch(set, attributes: atts, modifiers: mods, uid: uid)
    }

    static let fixtures: [Fixture] = [
        Fixture("a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n",
                fetch(.all, [.uid, .rfc822Size, .flags,
                             .bodySection(SectionSpec(text: .headerFields(thunderbirdHeaders)), partial: nil, peek: true)], uid: true)),
        Fixture("a0005 UID FETCH 1:42 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL)])\r\n",
                fetch(SequenceSet([range(1, 42)]), [.uid, .flags, .internalDate, .rfc822Size,
                                                     .bodySection(SectionSpec(text: .headerFields(muttHeaders)), partial: nil, peek: true)], uid: true)),
        Fixture("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
                fetch(SequenceSet([range(2, 4)]), [.flags, .bodySection(SectionSpec(text: .headerFields(["DATE", "FROM"])), partial: nil, peek: false)])),
        Fixture("ABCD3 FETCH 1 (RFC822)\r\n", fetch(SequenceSet([one(1)]), [.rfc822])),
        Fixture("a FETCH 1 RFC822.HEADER\r\n", fetch(SequenceSet([one(1)]), [.rfc822Header])),
        Fixture("a FETCH 1 (RFC822.TEXT ENVELOPE BODYSTRUCTURE BODY MODSEQ)\r\n",
                fetch(SequenceSet([one(1)]), [.rfc822Text, .envelope, .bodyStructure, .bodyStructureNonExtensible, .modSeq])),
        Fixture("a FETCH 1:3 ALL\r\n", fetch(SequenceSet([range(1, 3)]), FetchAttribute.all)),
        // RFC 8970 §3.
        Fixture("a FETCH 1 (UID PREVIEW)\r\n", fetch(SequenceSet([one(1)]), [.uid, .preview(lazy: false)])),
        Fixture("a FETCH 1 (PREVIEW (LAZY) FLAGS)\r\n", fetch(SequenceSet([one(1)]), [.preview(lazy: true), .flags])),
        Fixture("a FETCH 1 preview\r\n", fetch(SequenceSet([one(1)]), [.preview(lazy: false)])),
        Fixture("a FETCH 1 fast\r\n", fetch(SequenceSet([one(1)]), FetchAttribute.fast)),
        Fixture("a FETCH 1 FULL\r\n", fetch(SequenceSet([one(1)]), FetchAttribute.full)),
        Fixture("a FETCH 1 (FAST UID)\r\n", fetch(SequenceSet([one(1)]), FetchAttribute.fast + [.uid])),
        Fixture("a FETCH 1 BODY[]\r\n", fetch(SequenceSet([one(1)]), [.bodySection(.complete, partial: nil, peek: false)])),
        Fixture("6 UID FETCH 1234 (BODY.PEEK[]<0.30720>)\r\n",
                fetch(SequenceSet([one(1234)]), [.bodySection(.complete, partial: FetchPartial(offset: 0, length: 30720), peek: true)], uid: true)),
        Fixture("a FETCH 1 (BODY.PEEK[1.2.MIME] BODY[1.TEXT]<0.2048> BODY[2.HEADER] BODY[3] BODY[TEXT] BODY[HEADER])\r\n",
                fetch(SequenceSet([one(1)]), [
                    .bodySection(SectionSpec(part: [1, 2], text: .mime), partial: nil, peek: true),
                    .bodySection(SectionSpec(part: [1], text: .text), partial: FetchPartial(offset: 0, length: 2048), peek: false),
                    .bodySection(SectionSpec(part: [2], text: .header), partial: nil, peek: false),
                    .bodySection(SectionSpec(part: [3]), partial: nil, peek: false),
                    .bodySection(.text, partial: nil, peek: false),
                    .bodySection(.header, partial: nil, peek: false),
                ])),
        Fixture("a FETCH 1 BODY.PEEK[4.2.HEADER.FIELDS.NOT (Received \"X-Spam Status\")]\r\n",
                fetch(SequenceSet([one(1)]), [.bodySection(SectionSpec(part: [4, 2], text: .headerFieldsNot(["Received", "X-Spam Status"])), partial: nil, peek: true)])),
        Fixture("a FETCH 1 (BINARY.PEEK[1.2] BINARY[]<100.200> BINARY.SIZE[2] BINARY.SIZE[])\r\n",
                fetch(SequenceSet([one(1)]), [.binary(part: [1, 2], partial: nil, peek: true),
                                              .binary(part: [], partial: FetchPartial(offset: 100, length: 200), peek: false),
                                              .binarySize(part: [2]), .binarySize(part: [])])),
        Fixture("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
                fetch(.all, [.flags], [.changedSince(12345)], uid: true)),
        Fixture("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
                fetch(SequenceSet([range(300, 500)]), [.flags], [.changedSince(12345), .vanished], uid: true)),
        Fixture("5 uid fetch 1:* (flags uid)\r\n", fetch(.all, [.flags, .uid], uid: true)),
        Fixture("a FETCH $ (FLAGS)\r\n", fetch(.savedResult, [.flags])),
        Fixture("a FETCH 1 BODY[HEADER.FIELDS ({7+}\r\nSubject)]\r\n",
                fetch(SequenceSet([one(1)]), [.bodySection(SectionSpec(text: .headerFields(["Subject"])), partial: nil, peek: false)])),
    ]

    static let errors: [(String, String)] = [
        ("a FETCH 1 (BOGUS)\r\n", "unknown FETCH item at \"BOGUS)\""),
        ("a FETCH 1 (PREVIEW (FUZZY))\r\n", "\"LAZY\""),
        ("a FETCH 1 (PREVIEW ())\r\n", "\"LAZY\""),
        ("a FETCH 1 BODY[MIME]\r\n", "MIME is only valid after a part number"),
        ("a FETCH 1 BODY[1.BOGUS]\r\n", "unknown section text"),
        ("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "header field name"),
        ("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "expected SP"),
        ("a FETCH 1 BODY.PEEK\r\n", "\"[\" of section"),
        ("a FETCH 1 (FLAGS) (VANISHED)\r\n", "VANISHED requires UID FETCH with CHANGEDSINCE"),
        ("a UID FETCH 1 (FLAGS) (VANISHED)\r\n", "VANISHED requires"),
        ("a FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n", "must not be 0"),
        ("a FETCH 1 (FLAGS) (BOGUS)\r\n", "unknown FETCH modifier"),
        ("a FETCH 0 FLAGS\r\n", "must not be 0"),
        ("a FETCH 1 BODY[]<0.0>\r\n", "partial length must not be 0"),
        ("a FETCH 1 BODY[]<5>\r\n", "\".\" in partial range"),
        ("a FETCH 1 (FLAGS\r\n", "\")\" of FETCH items"),
        ("a FETCH 1 ()\r\n", "expected FETCH item"),
        ("a FETCH 1\r\n", "expected SP"),
        ("a FETCH 1 BINARY[1.HEADER]\r\n", "section part number"),
        ("a FETCH 1 BODY[0]\r\n", "must not be 0"),
    ]

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    @Test(arguments: errors) func rejects(_ e: (String, String)) {
        let results = Driver.run(bytes(e.0 + "z NOOP\r\n"))
        #expect(results.count == 2, "\(results)")
        guard case .error(let tag, let message) = results.first else {
            Issue.record("expected an error, got \(results)")
            return
        }
        #expect(tag == "a")
        #expect(message.hasPrefix("FETCH: ") || message.hasPrefix("UID FETCH: ") || message.hasPrefix("Unexpected"), "\(message)")
        #expect(message.contains(e.1), "\(message)")
        #expect(results.last == cmd("z", .noop))
    }

    @Test func sectionNestingIsBounded() {
        let deep = (1...33).map(String.init).joined(separator: ".")
        let results = Driver.run(bytes("a FETCH 1 BODY[\(deep)]\r\n"))
        #expect(errorMessage(results)?.contains("nested deeper than 32") == true)
        let ok = (1...32).map(String.init).joined(separator: ".")
        #expect(parseOne("a FETCH 1 BODY[\(ok)]\r\n") != nil)
    }
}
