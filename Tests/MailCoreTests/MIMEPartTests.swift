import Testing
import MailCore

/// Real-world shaped MIME fixtures, each run with LF and with CRLF line ends.
@Suite struct MIMEPartTests {
    static func crlf(_ s: String) -> [UInt8] {
        Array(s.replacing("\n", with: "\r\n").utf8)
    }

    static func text(_ m: [UInt8], _ r: Range<Int>) -> String {
        String(decoding: m[r], as: UTF8.self)
    }

    static func variants(_ s: String) -> [[UInt8]] { [Array(s.utf8), crlf(s)] }

    static let nested = """
        From: Alice <alice@example.com>
        To: bob@example.com
        Subject: nested
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        This is the preamble.
        --outer
        Content-Type: multipart/alternative; boundary=inner

        --inner
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        Gr=C3=BC=C3=9Fe
        line two
        --inner
        Content-Type: text/html; charset="utf-8"

        <p>Hi</p>
        --inner--
        --outer
        Content-Type: application/pdf; name="report.pdf"
        Content-Disposition: attachment;
         filename*0*=UTF-8''%E2%82%AC%20; filename*1="report.pdf"
        Content-Transfer-Encoding: base64
        Content-ID: <part3@example.com>
        Content-Description: The report
        Content-Language: en, de (German)
        Content-Location: http://example.com/
         report.pdf
        Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

        JVBERi0xLjQK
        --outer--
        This is the epilogue.

        """

    @Test(arguments: variants(nested))
    func nestedMixedAlternativeWithAttachment(_ m: [UInt8]) throws {
        let root = MIMEPart.parse(m)
        #expect(root.contentType.mimeType == "multipart/mixed")
        #expect(root.contentType.boundary == "outer")
        #expect(root.header.first("Subject")?.value == "nested")
        #expect(root.children.count == 2)

        let alt = root.children[0]
        #expect(alt.contentType.mimeType == "multipart/alternative")
        #expect(alt.children.count == 2)
        let plain = alt.children[0]
        #expect(plain.contentType.mimeType == "text/plain")
        #expect(plain.contentType.charset == "utf-8")
        #expect(plain.contentTransferEncoding == "quoted-printable")
        #expect(Self.text(m, plain.bodyRange).split(whereSeparator: \.isNewline) == ["Gr=C3=BC=C3=9Fe", "line two"])
        #expect(plain.bodyLineCount == 2)
        #expect(String(decoding: try #require(plain.decodedBody(in: m)), as: UTF8.self).hasPrefix("Grüße"))
        let html = alt.children[1]
        #expect(html.contentType.mimeType == "text/html")
        #expect(Self.text(m, html.bodyRange) == "<p>Hi</p>")
        #expect(html.contentTransferEncoding == "7bit")

        let pdf = root.children[1]
        #expect(pdf.contentType.mimeType == "application/pdf")
        #expect(pdf.contentType.parameter("NAME") == "report.pdf")
        #expect(pdf.contentDisposition?.value == "attachment")
        #expect(pdf.contentDisposition?.filename == "€ report.pdf")
        #expect(pdf.contentID == "<part3@example.com>")
        #expect(pdf.contentDescription == "The report")
        #expect(pdf.contentLanguage == ["en", "de"])
        #expect(pdf.contentLocation == "http://example.com/report.pdf")
        #expect(pdf.contentMD5 == "Q2hlY2sgSW50ZWdyaXR5IQ==")
        #expect(try #require(pdf.decodedBody(in: m)) == Array("%PDF-1.4\n".utf8))
        #expect(Self.text(m, pdf.bodyRange) == "JVBERi0xLjQK")

        // Header ranges end with the blank line; body follows immediately.
        for part in [root, alt, plain, html, pdf] {
            #expect(part.headerRange.upperBound == part.bodyRange.lowerBound)
            #expect(part.bodyRange.upperBound <= m.count)
        }
        #expect(Self.text(m, pdf.headerRange).hasPrefix("Content-Type: application/pdf"))
        #expect(Self.text(m, pdf.headerRange).hasSuffix("==\n\n") || Self.text(m, pdf.headerRange).hasSuffix("==\r\n\r\n"))

        // IMAP section numbers, RFC 3501 §6.4.5.
        #expect(root.part(at: [1])?.contentType.mimeType == "multipart/alternative")
        #expect(root.part(at: [1, 1])?.contentType.mimeType == "text/plain")
        #expect(root.part(at: [1, 2])?.contentType.mimeType == "text/html")
        #expect(root.part(at: [2])?.contentType.mimeType == "application/pdf")
        #expect(root.part(at: []) == root)
        #expect(root.part(at: [3]) == nil)
        #expect(root.part(at: [0]) == nil)
        #expect(root.part(at: [1, 3]) == nil)
        #expect(root.part(at: [2, 1]) == nil)
    }

    static let rfc822 = """
        From: a@example.com
        Subject: Fwd: hello
        Content-Type: multipart/mixed; boundary=b1

        --b1
        Content-Type: text/plain

        See attached.
        --b1
        Content-Type: message/rfc822
        Content-Disposition: attachment; filename="hello.eml"

        From: c@example.com
        Subject: hello
        Content-Type: multipart/alternative; boundary="b2"

        --b2
        Content-Type: text/plain

        inner plain
        --b2
        Content-Type: text/html

        <b>inner</b>
        --b2--
        --b1
        Content-Type: message/rfc822

        From: d@example.com
        Subject: simple

        simple body
        --b1--
        """

    @Test(arguments: variants(rfc822))
    func messageRFC822Attachment(_ m: [UInt8]) throws {
        let root = MIMEPart.parse(m)
        #expect(root.children.count == 3)
        let attached = root.children[1]
        #expect(attached.contentType.isEncapsulatedMessage)
        let inner = try #require(attached.encapsulated)
        #expect(inner.header.first("Subject")?.value == "hello")
        #expect(inner.headerRange.lowerBound == attached.bodyRange.lowerBound)
        #expect(inner.bodyRange.upperBound == attached.bodyRange.upperBound)
        #expect(inner.children.count == 2)
        #expect(attached.bodyLineCount == m[attached.bodyRange].split(separator: 10, omittingEmptySubsequences: false).count)

        #expect(root.part(at: [2]) == attached)
        #expect(root.part(at: [2, 1])?.contentType.mimeType == "text/plain")
        #expect(Self.text(m, try #require(root.part(at: [2, 1])).bodyRange) == "inner plain")
        #expect(Self.text(m, try #require(root.part(at: [2, 2])).bodyRange) == "<b>inner</b>")
        #expect(root.part(at: [2, 3]) == nil)

        // A non-multipart encapsulated message: part 3.1 is its body.
        let simple = root.children[2]
        let simpleInner = try #require(simple.encapsulated)
        #expect(simpleInner.header.first("subject")?.value == "simple")
        #expect(root.part(at: [3, 1]) == simpleInner)
        #expect(Self.text(m, simpleInner.bodyRange) == "simple body")
        #expect(root.part(at: [3, 2]) == nil)
    }

    @Test func missingClosingBoundary() {
        let m = Self.crlf("""
            Content-Type: multipart/mixed; boundary=x

            --x
            Content-Type: text/plain

            one
            --x
            Content-Type: multipart/alternative; boundary=y

            --y

            inner without close
            --x
            Content-Type: text/plain

            last, no close
            """)
        let root = MIMEPart.parse(m)
        #expect(root.children.count == 3)
        #expect(Self.text(m, root.children[0].bodyRange) == "one")
        let alt = root.children[1]
        #expect(alt.children.count == 1)
        #expect(Self.text(m, alt.children[0].bodyRange) == "inner without close")
        #expect(alt.children[0].contentType == ContentType.textPlainDefault)
        #expect(Self.text(m, root.children[2].bodyRange) == "last, no close")
    }

    @Test func partWithoutHeader() {
        let m = Self.crlf("""
            Content-Type: multipart/mixed; boundary="sep"

            --sep

            body after blank line
            --sep
            body with no header and no blank line
            --sep
            Content-Type: text/html

            <i>x</i>
            --sep--
            """)
        let root = MIMEPart.parse(m)
        #expect(root.children.count == 3)
        let first = root.children[0]
        #expect(first.header.fields.isEmpty)
        #expect(first.contentType == .textPlainDefault)
        #expect(first.headerRange.count == 2)  // just the CRLF
        #expect(Self.text(m, first.bodyRange) == "body after blank line")
        let second = root.children[1]
        #expect(second.header.fields.isEmpty)
        #expect(second.headerRange.isEmpty)
        #expect(Self.text(m, second.bodyRange) == "body with no header and no blank line")
        #expect(root.children[2].contentType.mimeType == "text/html")
    }

    @Test func boundaryEdgeCases() {
        // Transport padding after the boundary, a boundary that is a prefix of another line,
        // an empty part, and the outer boundary being a prefix of the inner one.
        let m = Self.crlf("""
            Content-Type: multipart/mixed; boundary="=_abc"

            --=_abc  \t
            Content-Type: multipart/alternative; boundary="=_abc_2"

            --=_abc_2
            Content-Type: text/plain

            --=_abcdef is not a boundary
            --=_abc_2--
            --=_abc
            --=_abc--   \t
            epilogue --=_abc
            """)
        let root = MIMEPart.parse(m)
        #expect(root.children.count == 2)
        let alt = root.children[0]
        #expect(alt.children.count == 1)
        #expect(Self.text(m, alt.children[0].bodyRange) == "--=_abcdef is not a boundary")
        #expect(root.children[1].bodyRange.isEmpty)
    }

    @Test func defaultsAndDigest() {
        let plain = MIMEPart.parse(Array("Subject: x\n\nhello\nworld".utf8))
        #expect(plain.contentType == .textPlainDefault)
        #expect(plain.contentType.charset == "us-ascii")
        #expect(plain.contentTransferEncoding == "7bit")
        #expect(plain.bodyLineCount == 2)
        #expect(plain.part(at: [1]) == plain)
        #expect(plain.part(at: [2]) == nil)
        #expect(plain.part(at: [1, 1]) == nil)

        let bad = MIMEPart.parse(Array("Content-Type: garbage\nContent-Transfer-Encoding: BASE64 (x)\n\n".utf8))
        #expect(bad.contentType == .textPlainDefault)
        #expect(bad.contentTransferEncoding == "base64")
        #expect(bad.bodyLineCount == 0)

        let digest = MIMEPart.parse(Self.crlf("""
            Content-Type: multipart/digest; boundary=d

            --d

            Subject: first

            one
            --d
            Content-Type: text/plain

            two
            --d--
            """))
        #expect(digest.children.map(\.contentType.mimeType) == ["message/rfc822", "text/plain"])
        #expect(digest.children[0].encapsulated?.header.first("Subject")?.value == "first")
        #expect(digest.part(at: [1, 1])?.header.first("Subject")?.value == "first")
    }

    @Test func multipartWithoutBoundaryIsOpaque() {
        let m = Array("Content-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n".utf8)
        let root = MIMEPart.parse(m)
        #expect(root.contentType.isMultipart)
        #expect(root.children.isEmpty)
        #expect(root.part(at: [1]) == nil)
        let noDelimiter = MIMEPart.parse(Array("Content-Type: multipart/mixed; boundary=q\n\njust text\n".utf8))
        #expect(noDelimiter.children.isEmpty)
    }

    @Test func encodedRFC822IsNotParsed() {
        let m = Array("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQpi\n".utf8)
        let root = MIMEPart.parse(m)
        #expect(root.encapsulated == nil)
        #expect(root.decodedBody(in: m) == Array("Subject: x\r\n\r\nb".utf8))
        let unknown = MIMEPart.parse(Array("Content-Transfer-Encoding: x-uuencode\n\nbody".utf8))
        #expect(unknown.decodedBody(in: Array("Content-Transfer-Encoding: x-uuencode\n\nbody".utf8)) == nil)
    }

    @Test func depthLimit() {
        var s = ""
        let depth = MIMELimits.maxDepth + 20
        for i in 0..<depth { s += "Content-Type: multipart/mixed; boundary=b\(i)\n\n--b\(i)\n" }
        s += "Content-Type: text/plain\n\nleaf\n"
        for i in (0..<depth).reversed() { s += "--b\(i)--\n" }
        let m = Array(s.utf8)
        var part = MIMEPart.parse(m)
        var levels = 0
        while let child = part.children.first {
            part = child
            levels += 1
        }
        #expect(levels == MIMELimits.maxDepth)
        #expect(part.contentType.isMultipart)  // opaque leaf at the limit

        // Encapsulated messages count towards the same depth.
        let nestedMessages = String(repeating: "Content-Type: message/rfc822\n\n", count: 200) + "Subject: deep\n\nx"
        var msg = MIMEPart.parse(Array(nestedMessages.utf8))
        var mdepth = 0
        while let inner = msg.encapsulated {
            msg = inner
            mdepth += 1
        }
        #expect(mdepth == MIMELimits.maxDepth)
    }

    @Test func partCountLimit() {
        var s = "Content-Type: multipart/mixed; boundary=p\n\n"
        for _ in 0..<(MIMELimits.maxParts + 500) { s += "--p\n\nx\n" }
        s += "--p--\n"
        let root = MIMEPart.parse(Array(s.utf8))
        #expect(root.children.count == MIMELimits.maxParts - 1)
    }

    @Test func transferDecoding() {
        #expect(TransferEncoding.decodeBase64(Array("SGVs\r\nbG8=".utf8)) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array("SGVsbG8".utf8)) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array(" S G V s b G 8 = ".utf8)) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array("SGk=SGk=".utf8)) == Array("HiHi".utf8))
        #expect(TransferEncoding.decodeBase64(Array("".utf8)) == [])
        #expect(TransferEncoding.decodeBase64(Array("S".utf8)) == nil)
        #expect(TransferEncoding.decodeBase64(Array("SGVsb".utf8)) == nil)
        let qp: [(String, String)] = [
            ("a=3Db", "a=b"),
            ("soft=\r\nbreak", "softbreak"),
            ("soft=  \nbreak", "softbreak"),
            ("trailing   \r\nspace\t\n", "trailing\r\nspace\n"),
            ("lower=c3=a9", "lower\u{e9}"),
            ("bad=zz=", "bad=zz"),
            ("end=4", "end=4"),
            ("=\n", ""),
        ]
        for (input, expected) in qp {
            #expect(TransferEncoding.decodeQuotedPrintable(Array(input.utf8)) == Array(expected.utf8), "\(input)")
        }
        let all = (0...255).map { UInt8($0) }
        #expect(TransferEncoding.decodeBase64(Array(TransferEncoding.encodeBase64(all).utf8)) == all)
        #expect(TransferEncoding.encodeBase64(all).split(separator: "\r\n").allSatisfy { $0.count <= 76 })
    }

    @Test func contentTypeParsing() {
        let ct = ContentType.parse("Text/HTML ; Charset=\"ISO-8859-1\" (comment); format=flowed")
        #expect(ct?.type == "text")
        #expect(ct?.subtype == "html")
        #expect(ct?.charset == "ISO-8859-1")
        #expect(ct?.parameter("FORMAT") == "flowed")
        #expect(ct?.parameters.map(\.name) == ["charset", "format"])
        #expect(ContentType.parse("text") == nil)
        #expect(ContentType.parse("/plain") == nil)
        #expect(ContentType.parse("") == nil)
        #expect(ContentType.parse("(c) multipart / mixed ; boundary = \"a b\"")?.boundary == "a b")
        let cd = ContentDisposition.parse("ATTACHMENT; filename=\"a.txt\"; size=12")
        #expect(cd?.value == "attachment")
        #expect(cd?.filename == "a.txt")
        #expect(cd?.parameter("size") == "12")
        #expect(ContentDisposition.parse("  ") == nil)
    }

    @Test func fuzzNeverCrashes() {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0005)
        let alphabet = Array("--b1--b2\r\n\n: ;=\"Content-Type multipart/mixed message/rfc822 boundary=b1 base64".utf8)
        let seeds = [Self.nested, Self.rfc822].flatMap(Self.variants)
        for n in 0..<3000 {
            let m = n % 3 == 0
                ? rng.bytes(maxLength: 400, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            let root = MIMEPart.parse(m)
            var count = 0
            Self.check(root, within: 0..<m.count, count: &count)
            #expect(count <= MIMELimits.maxParts)
            _ = root.part(at: [1, 1, 1])
            _ = root.part(at: [2, 1])
            _ = root.decodedBody(in: m)
        }
    }

    static func check(_ p: MIMEPart, within r: Range<Int>, count: inout Int) {
        count += 1
        #expect(p.headerRange.lowerBound >= r.lowerBound)
        #expect(p.headerRange.upperBound == p.bodyRange.lowerBound)
        #expect(p.bodyRange.upperBound <= r.upperBound)
        #expect(p.bodyLineCount <= p.bodyRange.count)
        var last = p.bodyRange.lowerBound
        for c in p.children {
            #expect(c.headerRange.lowerBound >= last)
            last = c.bodyRange.upperBound
            check(c, within: p.bodyRange, count: &count)
        }
        if let e = p.encapsulated { check(e, within: p.bodyRange, count: &count) }
    }
}

extension MIMEPartTests {
    @Test(.timeLimit(.minutes(1)))
    func largeAndHostileMessagesStayFast() {
        // Many boundary lines at every nesting level.
        var s = ""
        for i in 0..<MIMELimits.maxDepth { s += "Content-Type: multipart/mixed; boundary=b\(i)\n\n--b\(i)\n" }
        s += String(repeating: "--b0\n--b1\n--b2\n", count: 20_000)
        let root = MIMEPart.parse(Array(s.utf8))
        #expect(root.children.count <= MIMELimits.maxParts)

        // A 4 MB single-part body and a 100k-line header.
        let big = Array(("Subject: x\r\n\r\n" + String(repeating: "0123456789abcdef\r\n", count: 230_000)).utf8)
        #expect(MIMEPart.parse(big).bodyLineCount == 230_000)
        let manyFields = Array((String(repeating: "X: y\n", count: 100_000) + "\nbody").utf8)
        #expect(MIMEPart.parse(manyFields).header.fields.count == 100_000.clamped(to: 0...MessageHeader.maxFieldCount))

        // Encoded-word look-alikes.
        _ = EncodedWord.decode(String(repeating: "=?utf-8?q?", count: 50_000))
        _ = EncodedWord.decode("=?utf-8?q?" + String(repeating: "a", count: 500_000))
        _ = MIMEParameters.parse(String(repeating: "; a*1*=%", count: 50_000))
    }
}

extension Comparable {
    fileprivate func clamped(to r: ClosedRange<Self>) -> Self { min(max(self, r.lowerBound), r.upperBound) }
}

extension MIMEPartTests {
    /// The structure of the RFC 3501 §6.4.5 section-numbering example.
    static let rfc3501Example = """
        Subject: example
        Content-Type: MULTIPART/MIXED; boundary=top

        --top
        Content-Type: TEXT/PLAIN

        part 1
        --top
        Content-Type: APPLICATION/OCTET-STREAM

        part 2
        --top
        Content-Type: MESSAGE/RFC822

        Subject: part 3
        Content-Type: MULTIPART/MIXED; boundary=three

        --three
        Content-Type: TEXT/PLAIN

        part 3.1
        --three
        Content-Type: APPLICATION/OCTET-STREAM

        part 3.2
        --three--
        --top
        Content-Type: MULTIPART/MIXED; boundary=four

        --four
        Content-Type: IMAGE/GIF

        part 4.1
        --four
        Content-Type: MESSAGE/RFC822

        Subject: part 4.2
        Content-Type: MULTIPART/MIXED; boundary=fourtwo

        --fourtwo
        Content-Type: TEXT/PLAIN

        part 4.2.1
        --fourtwo
        Content-Type: MULTIPART/ALTERNATIVE; boundary=alt

        --alt
        Content-Type: TEXT/PLAIN

        part 4.2.2.1
        --alt
        Content-Type: TEXT/RICHTEXT

        part 4.2.2.2
        --alt--
        --fourtwo--
        --four--
        --top--
        """

    static let rfc3501Sections: [([Int], String, String?)] = [
        ([1], "text/plain", "part 1"),
        ([2], "application/octet-stream", "part 2"),
        ([3], "message/rfc822", nil),
        ([3, 1], "text/plain", "part 3.1"),
        ([3, 2], "application/octet-stream", "part 3.2"),
        ([4], "multipart/mixed", nil),
        ([4, 1], "image/gif", "part 4.1"),
        ([4, 2], "message/rfc822", nil),
        ([4, 2, 1], "text/plain", "part 4.2.1"),
        ([4, 2, 2], "multipart/alternative", nil),
        ([4, 2, 2, 1], "text/plain", "part 4.2.2.1"),
        ([4, 2, 2, 2], "text/richtext", "part 4.2.2.2"),
    ]

    @Test(arguments: variants(rfc3501Example))
    func rfc3501SectionNumbering(_ m: [UInt8]) throws {
        let root = MIMEPart.parse(m)
        for (section, type, body) in Self.rfc3501Sections {
            let part = try #require(root.part(at: section), "\(section)")
            #expect(part.contentType.mimeType == type, "\(section)")
            if let body { #expect(Self.text(m, part.bodyRange) == body, "\(section)") }
        }
        // n.HEADER of a message/rfc822 part is its encapsulated message's header.
        #expect(root.part(at: [3])?.encapsulated?.header.first("Subject")?.value == "part 3")
        #expect(root.part(at: [4, 2])?.encapsulated?.header.first("Subject")?.value == "part 4.2")
        for missing in [[5], [1, 1], [3, 3], [4, 3], [4, 2, 3], [4, 2, 2, 3], [4, 2, 2, 1, 1]] {
            #expect(root.part(at: missing) == nil, "\(missing)")
        }
    }
}
