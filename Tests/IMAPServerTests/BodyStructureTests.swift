import IMAPProtocol
import MailCore
import Testing
@testable import IMAPServer

/// ENVELOPE, BODY and BODYSTRUCTURE of real-world shaped messages, checked on the wire form.
@Suite("ENVELOPE and BODYSTRUCTURE builders")
struct BodyStructureTests {
    func wire(_ message: [UInt8], _ item: (MIMEPart) -> FetchResponseItem, utf8: Bool = false) -> String {
        let part = MIMEPart.parse(message)
        return String(decoding: IMAPEncoder(utf8: utf8).encode(.untagged(.fetch(1, [item(part)]))), as: UTF8.self)
    }

    func envelope(_ m: [UInt8], utf8: Bool = false) -> String {
        wire(m, { .envelope(EnvelopeBuilder.envelope($0.header)) }, utf8: utf8)
    }

    func structure(_ m: [UInt8], extensible: Bool = true) -> String {
        wire(m) { p in
            let s = BodyStructureBuilder.structure(p, rev2: false)
            return extensible ? .bodyStructure(s) : .body(s)
        }
    }

    @Test func simpleTextMessage() {
        #expect(envelope(Fixtures.simple) == """
            * 1 FETCH (ENVELOPE ("Mon, 2 Mar 2026 09:30:00 -0500" "hi" (("Alice" NIL "alice" "example.test")) \
            (("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) ((NIL NIL "bob" "example.test")) \
            NIL NIL NIL "<simple@example.test>"))\r\n
            """)
        #expect(structure(Fixtures.simple) == """
            * 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 14 2 NIL NIL NIL NIL))\r\n
            """)
        #expect(structure(Fixtures.simple, extensible: false) == """
            * 1 FETCH (BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 14 2))\r\n
            """)
    }

    @Test func envelopeKeepsEncodedWordsGroupsAndSenderFields() {
        #expect(envelope(Fixtures.nested) == """
            * 1 FETCH (ENVELOPE ("Tue, 3 Mar 2026 10:00:00 +0100" "=?UTF-8?B?UmU6IFByb2pla3Q=?=" \
            (("Doe, Jane" NIL "jane" "example.net")) ((NIL NIL "list" "example.org")) ((NIL NIL "replies" "example.org")) \
            ((NIL NIL "team" NIL)(NIL NIL "alice" "example.test")(NIL NIL "bob" "example.test")(NIL NIL NIL NIL)\
            (NIL NIL "carol" "example.test")) (("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "example.net")) NIL \
            "<orig@example.net>" "<nested@example.net>"))\r\n
            """)
    }

    @Test func nestedMultipartWithForwardedMessageAndAttachment() {
        #expect(structure(Fixtures.nested) == """
            * 1 FETCH (BODYSTRUCTURE (((\"text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "QUOTED-PRINTABLE" 15 1 \
            NIL NIL NIL NIL)("text" "html" ("charset" "UTF-8") NIL NIL "7BIT" 9 1 NIL NIL NIL NIL) "alternative" \
            ("boundary" "inner") NIL NIL NIL)("message" "rfc822" NIL NIL "forwarded" "7BIT" 90 \
            ("Sun, 1 Mar 2026 08:00:00 +0000" "original" ((NIL NIL "old" "example.com")) ((NIL NIL "old" "example.com")) \
            ((NIL NIL "old" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 1 \
            NIL NIL NIL NIL) 5 NIL NIL NIL NIL)("image" "png" ("name" "pic.png") "<img1@example.net>" NIL "BASE64" 12 NIL \
            ("attachment" ("filename" "very-long-name.png")) "de" NIL) "mixed" ("boundary" "outer") NIL NIL NIL))\r\n
            """)
        #expect(structure(Fixtures.nested, extensible: false) == """
            * 1 FETCH (BODY ((("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "QUOTED-PRINTABLE" 15 1)\
            ("text" "html" ("charset" "UTF-8") NIL NIL "7BIT" 9 1) "alternative")("message" "rfc822" NIL NIL "forwarded" \
            "7BIT" 90 ("Sun, 1 Mar 2026 08:00:00 +0000" "original" ((NIL NIL "old" "example.com")) ((NIL NIL "old" \
            "example.com")) ((NIL NIL "old" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") \
            NIL NIL "7BIT" 8 1) 5)("image" "png" ("name" "pic.png") "<img1@example.net>" NIL "BASE64" 12) "mixed"))\r\n
            """)
    }

    @Test func malformedPartsDegradeToValidGrammar() {
        // No boundary: the grammar still gets one (empty) body part.
        #expect(structure(Fixtures.malformed) == """
            * 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) "mixed" NIL NIL NIL NIL))\r\n
            """.replacingOccurrences(of: "0 0)", with: "0 0 NIL NIL NIL NIL)"))
        #expect(envelope(Fixtures.malformed).contains("((NIL NIL \"broken\" \"MISSING_DOMAIN\"))"))
        #expect(structure(Fixtures.unknownEncoding).contains("(\"application\" \"octet-stream\" NIL NIL NIL \"x-uuencode\" 11 "))
    }

    @Test func eightBitHeadersAreLiteralsForIMAP4rev1AndQuotedUnderUTF8() {
        let rev1 = envelope(Fixtures.eightBit)
        #expect(rev1.contains("{7}\r\nGrüße"))
        #expect(rev1.contains("(({5}\r\nJörg NIL \"joerg\" \"example.net\"))"))
        let rev2 = envelope(Fixtures.eightBit, utf8: true)
        #expect(rev2.contains("\"Grüße\" ((\"Jörg\" NIL \"joerg\" \"example.net\"))"))
    }

    @Test func continuedParametersAreJoined() {
        let joined = BodyStructureBuilder.parameters([
            MIMEParameter(name: "title*1*", value: "%20world"), MIMEParameter(name: "charset", value: "us-ascii"),
            MIMEParameter(name: "title*0*", value: "utf-8''hello"), MIMEParameter(name: "name*", value: "utf-8''x"),
        ])
        #expect(joined == [BodyParameter("title*", "utf-8''hello%20world"), BodyParameter("charset", "us-ascii"),
                           BodyParameter("name*", "utf-8''x")])
    }
}
