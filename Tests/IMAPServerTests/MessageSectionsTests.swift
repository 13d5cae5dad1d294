import IMAPProtocol
import MailCore
import Testing
@testable import IMAPServer

@Suite("BODY[section] and BINARY contents")
struct MessageSectionsTests {
    let nested = LoadedMessage(bytes: Fixtures.nested)

    func text(_ spec: SectionSpec, _ m: LoadedMessage? = nil) -> String? {
        MessageSections.bytes(spec, in: m ?? nested).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func partsByNumber() {
        #expect(text(SectionSpec(part: [1, 1])) == "Gr=C3=BC=C3=9Fe")
        #expect(text(SectionSpec(part: [1, 2])) == "<p>Hi</p>")
        #expect(text(SectionSpec(part: [1, 2], text: .mime)) == "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
        #expect(text(SectionSpec(part: [3])) == "iVBORw0KGgo=")
        #expect(text(SectionSpec(part: [4])) == nil)
        #expect(text(SectionSpec(part: [1, 1, 1])) == nil)
    }

    @Test func encapsulatedMessageSections() {
        #expect(text(SectionSpec(part: [2, 1])) == "old body")
        #expect(text(SectionSpec(part: [2], text: .text)) == "old body")
        #expect(text(SectionSpec(part: [2], text: .header))?.hasPrefix("From: old@example.com\r\n") == true)
        #expect(text(SectionSpec(part: [2], text: .headerFields(["subject"]))) == "Subject: original\r\n\r\n")
        // HEADER of a part that is not a message does not exist.
        #expect(text(SectionSpec(part: [3], text: .header)) == nil)
    }

    @Test func topLevelHeaderAndText() {
        let simple = LoadedMessage(bytes: Fixtures.simple)
        #expect(text(.complete, simple) == String(decoding: Fixtures.simple, as: UTF8.self))
        #expect(text(.text, simple) == "Hello\r\nWorld\r\n")
        #expect(text(.header, simple)?.hasSuffix("Message-ID: <simple@example.test>\r\n\r\n") == true)
        #expect(text(SectionSpec(text: .headerFields(["To", "FROM"])), simple) == "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n\r\n")
        #expect(text(SectionSpec(text: .headerFieldsNot(["from", "to", "date", "message-id"])), simple) == "Subject: hi\r\n\r\n")
        // A single-part message's part 1 is its body.
        #expect(text(SectionSpec(part: [1]), simple) == "Hello\r\nWorld\r\n")
    }

    @Test func partialRanges() {
        let bytes = Array("0123456789".utf8)
        #expect(Array(MessageSections.partial(bytes, FetchPartial(offset: 2, length: 3))) == Array("234".utf8))
        #expect(Array(MessageSections.partial(bytes, FetchPartial(offset: 8, length: 100))) == Array("89".utf8))
        #expect(MessageSections.partial(bytes, FetchPartial(offset: 20, length: 5)).isEmpty)
        #expect(Array(MessageSections.partial(bytes, FetchPartial(offset: 1, length: .max))) == Array("123456789".utf8))
    }

    @Test func binaryDecodesTransferEncodings() throws {
        #expect(try MessageSections.binary([1, 1], in: nested).get() == Array("Grüße".utf8))
        #expect(try MessageSections.binary([3], in: nested).get() == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try MessageSections.binary([9], in: nested).get() == nil)
        let unknown = LoadedMessage(bytes: Fixtures.unknownEncoding)
        #expect((try? MessageSections.binary([1], in: unknown).get()) == nil)
        // BINARY with NUL goes out as literal8.
        let item = FetchResponseItem.binary(part: [3], data: try MessageSections.binary([3], in: nested).get())
        #expect(IMAPEncoder().encode(.untagged(.fetch(1, [item]))).starts(with: Array("* 1 FETCH (BINARY[3] {8}".utf8)))
    }

    @Test func fetchItemsSetSeenOnlyWithoutPeek() {
        #expect(FetchResponse.setsSeen(.bodySection(.complete, partial: nil, peek: false)))
        #expect(!FetchResponse.setsSeen(.bodySection(.complete, partial: nil, peek: true)))
        #expect(FetchResponse.setsSeen(.rfc822))
        #expect(FetchResponse.setsSeen(.rfc822Text))
        #expect(!FetchResponse.setsSeen(.rfc822Header))
        #expect(FetchResponse.setsSeen(.binary(part: [1], partial: nil, peek: false)))
        #expect(!FetchResponse.needsContent(.flags) && FetchResponse.needsContent(.envelope))
    }

    /// The header-only fast path gives exactly what the MIME tree gives.
    @Test(arguments: [
        Fixtures.nested,
        Array("Subject: a\r\nFrom: b@c\r\n\r\nbody\r\n".utf8),
        Array("Subject: lf only\nX: y\n\nbody\n".utf8),
        Array("Subject: no body\r\n".utf8),
        Array("no header at all".utf8),
        [UInt8](),
    ])
    func headerFastPathMatchesTheMIMETree(bytes: [UInt8]) {
        let m = LoadedMessage(bytes: bytes)
        let root = MIMEPart.parse(bytes)
        #expect(MessageSections.bytes(SectionSpec(text: .header), in: m) == MessageSections.slice(bytes, root.headerRange))
        #expect(MessageSections.bytes(SectionSpec(text: .text), in: m) == MessageSections.slice(bytes, root.bodyRange))
        #expect(MessageSections.bytes(SectionSpec(text: .headerFields(["SUBJECT"])), in: m)
                == MessageSections.headerFields(root.header, names: ["SUBJECT"], not: false))
    }
}
