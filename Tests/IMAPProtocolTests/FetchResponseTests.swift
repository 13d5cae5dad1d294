import Testing
@testable import IMAPProtocol

/// FETCH response items: UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ, BODY[section], BINARY,
/// ENVELOPE, BODY / BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3516, RFC 7162).
private func a(_ name: String?, _ mailbox: String, _ host: String) -> Envelope.Address {
    Envelope.Address(name: name, mailbox: mailbox, host: host)
}

@Suite struct FetchResponseTests {

    /// The ENVELOPE of RFC 3501 §8's sample session.
    static let rfcEnvelope = Envelope(
        date: bytes("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"),
        subject: bytes("IMAP4rev1 WG mtg summary and minutes"),
        from: [a("Terry Gray", "gray", "cac.washington.edu")],
        sender: [a("Terry Gray", "gray", "cac.washington.edu")],
        replyTo: [a("Terry Gray", "gray", "cac.washington.edu")],
        to: [Envelope.Address(mailbox: bytes("imap"), host: bytes("cac.washington.edu"))],
        cc: [Envelope.Address(mailbox: bytes("minutes"), host: bytes("CNRI.Reston.VA.US")), a("John Klensin", "KLENSIN", "MIT.EDU")],
        messageID: bytes("<B27397-0100000@cac.washington.edu>"))

    static let textPlain = BodyStructure.singlePart(.init(
        type: "TEXT", subtype: "PLAIN",
        fields: BodyFields(parameters: [BodyParameter("CHARSET", "US-ASCII")], encoding: "7BIT", octets: 3028),
        kind: .text(lines: 92)))

    @Test func rfc3501Sample() {
        let response = UntaggedResponse.fetch(12, [
            .flags([.seen]),
            .internalDate(IMAPDateTime(year: 1996, month: 7, day: 17, hour: 2, minute: 44, second: 25, zoneMinutes: -420)),
            .rfc822Size(4286),
            .envelope(Self.rfcEnvelope),
            .body(Self.textPlain),
        ])
        let expected = "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 "
            + "ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
            + "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
            + "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) "
            + "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
            + "\"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
        #expect(wire(response) == expected)
    }

    @Test func simpleItems() {
        #expect(wire(.fetch(1, [.uid(4827313), .modSeq(12_121_231_000)])) == "* 1 FETCH (UID 4827313 MODSEQ (12121231000))\r\n")
        #expect(wire(.fetch(2, [.flags([])])) == "* 2 FETCH (FLAGS ())\r\n")
        #expect(wire(.fetch(3, [.binarySize(part: [1, 2], size: 2345), .binarySize(part: [], size: 7)])) == "* 3 FETCH (BINARY.SIZE[1.2] 2345 BINARY.SIZE[] 7)\r\n")
        #expect(wire(.fetch(4, [.internalDate(IMAPDateTime(secondsSince1970: 0))])) == "* 4 FETCH (INTERNALDATE \" 1-Jan-1970 00:00:00 +0000\")\r\n")
    }

    @Test func bodySections() {
        #expect(wire(.fetch(1, [.bodySection(.complete, data: bytes("Subject: hi\r\n\r\nbody\r\n"))]))
            == "* 1 FETCH (BODY[] {21}\r\nSubject: hi\r\n\r\nbody\r\n)\r\n")
        #expect(wire(.fetch(1, [.bodySection(SectionSpec(text: .headerFields(["From", "Subject"])), data: bytes("From: a@b\r\n\r\n"))]))
            == "* 1 FETCH (BODY[HEADER.FIELDS (From Subject)] {13}\r\nFrom: a@b\r\n\r\n)\r\n")
        #expect(wire(.fetch(1, [.bodySection(SectionSpec(part: [1, 2], text: .mime), data: bytes("x"))])) == "* 1 FETCH (BODY[1.2.MIME] {1}\r\nx)\r\n")
        #expect(wire(.fetch(1, [.bodySection(SectionSpec(part: [4, 2], text: .headerFieldsNot(["X Y", "Received"])), data: []) ]))
            == "* 1 FETCH (BODY[4.2.HEADER.FIELDS.NOT (\"X Y\" Received)] {0}\r\n)\r\n")
        #expect(wire(.fetch(1, [.bodySection(.text, origin: 0, data: bytes("abc"))])) == "* 1 FETCH (BODY[TEXT]<0> {3}\r\nabc)\r\n")
        #expect(wire(.fetch(1, [.bodySection(SectionSpec(part: [3]), data: nil)])) == "* 1 FETCH (BODY[3] NIL)\r\n")
        #expect(wire(.fetch(1, [.rfc822(bytes("a")), .rfc822Header(bytes("b")), .rfc822Text(nil)]))
            == "* 1 FETCH (RFC822 {1}\r\na RFC822.HEADER {1}\r\nb RFC822.TEXT NIL)\r\n")
    }

    @Test func binary() {
        #expect(wire(.fetch(1, [.binary(part: [1], data: [0x61, 0x00, 0x62])]))
            == "* 1 FETCH (BINARY[1] ~{3}\r\na\u{0}b)\r\n")
        #expect(wire(.fetch(1, [.binary(part: [2, 1], origin: 100, data: bytes("text"))])) == "* 1 FETCH (BINARY[2.1]<100> {4}\r\ntext)\r\n")
        #expect(wire(.fetch(1, [.binary(part: [], data: nil)])) == "* 1 FETCH (BINARY[] NIL)\r\n")
        // An empty part is a literal8 (the compliance suite's finding).
        #expect(wire(.fetch(1, [.binary(part: [3], data: [])])) == "* 1 FETCH (BINARY[3] ~{0}\r\n)\r\n")
        let eightBit = IMAPEncoder().encode(.untagged(.fetch(1, [.binary(part: [1], data: [0xFF, 0x0A])])))
        #expect(eightBit == bytes("* 1 FETCH (BINARY[1] {2}\r\n") + [0xFF, 0x0A] + bytes(")\r\n"))
    }

    @Test func envelopeStrings() {
        // Raw 8-bit header bytes are sent as literals under IMAP4rev1; UTF-8 is quoted under IMAP4rev2.
        let env = Envelope(subject: bytes("Gr\u{00FC}\u{00DF}e"), from: [a("J\"oe", "joe", "example.com")], inReplyTo: [0xE4])
        #expect(wire(.fetch(1, [.envelope(env)]))
            == "* 1 FETCH (ENVELOPE (NIL {7}\r\nGr\u{00FC}\u{00DF}e ((\"J\\\"oe\" NIL \"joe\" \"example.com\")) NIL NIL NIL NIL NIL {1}\r\n\u{FFFD} NIL))\r\n")
        #expect(wire(.fetch(1, [.envelope(env)]), utf8: true)
            == "* 1 FETCH (ENVELOPE (NIL \"Gr\u{00FC}\u{00DF}e\" ((\"J\\\"oe\" NIL \"joe\" \"example.com\")) NIL NIL NIL NIL NIL {1}\r\n\u{FFFD} NIL))\r\n")
    }

    @Test func groupSyntax() {
        let env = Envelope(to: [.groupStart("undisclosed-recipients"), .groupEnd],
                           cc: [.groupStart("Friends"), a(nil, "x", "y.z"), .groupEnd, a(nil, "d", "e.f")])
        #expect(wire(.fetch(1, [.envelope(env)]))
            == "* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
            + "((NIL NIL \"Friends\" NIL)(NIL NIL \"x\" \"y.z\")(NIL NIL NIL NIL)(NIL NIL \"d\" \"e.f\")) NIL NIL NIL))\r\n")
    }

    static let mixed = BodyStructure.multipart(.init(
        parts: [
            .singlePart(.init(type: "TEXT", subtype: "PLAIN",
                              fields: BodyFields(parameters: [BodyParameter("CHARSET", "US-ASCII")], encoding: "7BIT", octets: 1152),
                              kind: .text(lines: 23))),
            .singlePart(.init(type: "TEXT", subtype: "PLAIN",
                              fields: BodyFields(parameters: [BodyParameter("CHARSET", "US-ASCII"), BodyParameter("NAME", "cc.diff")],
                                                 id: "<960723163407.20117h@cac.washington.edu>", description: "Compiler diff",
                                                 encoding: "BASE64", octets: 4554),
                              kind: .text(lines: 73),
                              extension: BodyExtension(md5: "Q2hlY2sgSW50ZWdyaXR5IQ==",
                                                       disposition: BodyDisposition(type: "ATTACHMENT", parameters: [BodyParameter("FILENAME", "cc.diff")]),
                                                       language: ["en", "de"], location: "http://example.com/cc.diff"))),
        ],
        subtype: "MIXED", parameters: [BodyParameter("BOUNDARY", "----=_Part_0")],
        extension: BodyExtension(language: ["en"])))

    @Test func bodyMultipartNonExtensible() {
        // RFC 3501 §7.4.2's multipart example.
        #expect(wire(.fetch(1, [.body(Self.mixed)]))
            == "* 1 FETCH (BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
            + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" "
            + "\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))\r\n")
    }

    @Test func bodyStructureWithExtensions() {
        #expect(wire(.fetch(1, [.bodyStructure(Self.mixed)]))
            == "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 NIL NIL NIL NIL)"
            + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" "
            + "\"Compiler diff\" \"BASE64\" 4554 73 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" (\"FILENAME\" \"cc.diff\")) "
            + "(\"en\" \"de\") \"http://example.com/cc.diff\") \"MIXED\" (\"BOUNDARY\" \"----=_Part_0\") NIL \"en\" NIL))\r\n")
    }

    @Test func basicAndMessageParts() {
        let pdf = BodyStructure.singlePart(.init(type: "APPLICATION", subtype: "PDF",
                                                 fields: BodyFields(parameters: [BodyParameter("NAME", "r\u{00E9}sum\u{00E9}.pdf")], encoding: "BASE64", octets: 4096),
                                                 extension: BodyExtension(disposition: BodyDisposition(type: "attachment"))))
        #expect(wire(.fetch(1, [.bodyStructure(pdf)]), utf8: true)
            == "* 1 FETCH (BODYSTRUCTURE (\"APPLICATION\" \"PDF\" (\"NAME\" \"r\u{00E9}sum\u{00E9}.pdf\") NIL NIL \"BASE64\" 4096 NIL (\"attachment\" NIL) NIL NIL))\r\n")
        let inner = Envelope(subject: bytes("inner"), from: [a(nil, "x", "y")])
        let message = BodyStructure.singlePart(.init(type: "MESSAGE", subtype: "RFC822",
                                                     fields: BodyFields(encoding: "7BIT", octets: 500),
                                                     kind: .message(envelope: inner, body: Self.textPlain, lines: 12)))
        #expect(wire(.fetch(1, [.body(message)]))
            == "* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 500 (NIL \"inner\" ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL NIL NIL) "
            + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) 12))\r\n")
        #expect(wire(.fetch(1, [.bodyStructure(message)]))
            == "* 1 FETCH (BODYSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 500 (NIL \"inner\" ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL NIL NIL) "
            + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL) 12 NIL NIL NIL NIL))\r\n")
    }
}
