import NIOCore
import Testing
import TestSupport
@testable import Filters

/// The milter packets (libmilter's mfdef.h names): encode, decode, frame, refuse malformed input.
@Suite("milter codec")
struct MilterCodecTests {
    static let commands: [MilterCommand] = [
        .negotiate(MilterNegotiation(version: 6, actions: .all, options: .offered)),
        .macros(for: UInt8(ascii: "C"), [MilterMacro("j", "mx.example.test"), MilterMacro("{daemon_name}", "smtp")]),
        .macros(for: UInt8(ascii: "E"), []),
        .connect(hostname: "unknown", .inet(port: 25, address: "192.0.2.1")),
        .connect(hostname: "h", .inet6(port: 0, address: "2001:db8::1")),
        .connect(hostname: "local", .unix(path: "/run/x")),
        .connect(hostname: "unknown", .unknown),
        .helo("client.example.test"),
        .mail(["<a@example.test>", "BODY=8BITMIME"]),
        .mail(["<>"]),
        .recipient(["<b@example.test>"]),
        .data,
        .header(name: "Subject", value: Array("hello\n\tworld".utf8)),
        .header(name: "X-Empty", value: []),
        .endOfHeaders,
        .body(Array("line\r\n".utf8)),
        .body([]),
        .endOfMessage,
        .abort,
        .quit,
    ]

    static let replies: [MilterReply] = [
        .negotiate(MilterNegotiation(version: 6, actions: [.addHeaders, .changeHeaders], options: [.noReplyHeader, .skip])),
        .negotiate(MilterNegotiation(version: 6, actions: .all, options: [],
                                     macroLists: [.connect: "j {client_addr}", .endOfMessage: "{i}"])),
        .accept, .continue, .reject, .tempfail, .discard, .progress, .skip, .shutdown, .connectionFailure,
        .replyCode(MilterSMTPReply(code: 554, enhanced: [5, 7, 1], lines: ["Gtube pattern"])),
        .replyCode(MilterSMTPReply(code: 451, enhanced: nil, lines: ["first", "second"])),
        .addHeader(name: "X-Virus-Scanned", value: Array("ClamAV".utf8)),
        .changeHeader(index: 2, name: "Subject", value: []),
        .insertHeader(index: 0, name: "DKIM-Signature", value: Array("v=1; a=rsa-sha256;\n\td=example.test".utf8)),
        .replaceBody(Array("new body\r\n".utf8)),
        .quarantine(reason: "suspicious"),
        .changeSender("<new@example.test>", parameters: nil),
        .changeSender("<>", parameters: "BODY=8BITMIME"),
        .addRecipient("<c@example.test>"),
        .addRecipientWithParameters("<d@example.test>", parameters: "NOTIFY=NEVER"),
        .addRecipientWithParameters("e@example.test", parameters: nil),
        .deleteRecipient("<b@example.test>"),
    ]

    /// Every command and reply, framed together, read back in any chunking.
    @Test(arguments: Chunking.standard)
    func roundTrips(_ chunking: Chunking) throws {
        let commandBytes = Array(MilterCodec.encode(Self.commands).readableBytesView)
        #expect(try Self.decode(commandBytes, chunking, MilterCodec.decodeCommand) == Self.commands)
        let replyBytes = Array(MilterCodec.encode(Self.replies).readableBytesView)
        #expect(try Self.decode(replyBytes, chunking, MilterCodec.decodeReply) == Self.replies)
    }

    static func decode<T>(_ bytes: [UInt8], _ chunking: Chunking,
                          _ decode: (UInt8, ByteBuffer) throws(MilterProtocolError) -> T) throws -> [T] {
        var buffer = ByteBuffer()
        var out: [T] = []
        for chunk in chunking.split(bytes) {
            buffer.writeBytes(chunk)
            while true {
                let before = buffer
                guard let (code, data) = try MilterCodec.nextPacket(&buffer) else {
                    // Short input leaves the buffer as it was.
                    #expect(buffer == before)
                    break
                }
                out.append(try decode(code, data))
            }
        }
        #expect(buffer.readableBytes == 0)
        return out
    }

    /// The wire form, octet for octet, of the packets whose layout matters most.
    @Test func wireLayout() {
        let optneg = MilterCodec.encode([MilterCommand.negotiate(MilterNegotiation(version: 6, actions: .all, options: .offered))])
        #expect(Array(optneg.readableBytesView) == [0, 0, 0, 13, UInt8(ascii: "O"), 0, 0, 0, 6, 0, 0, 0x01, 0xFF, 0, 0x1F, 0xF7, 0xFF])
        let connect = MilterCodec.encode([MilterCommand.connect(hostname: "h", .inet(port: 25, address: "1.2.3.4"))])
        #expect(Array(connect.readableBytesView) == [0, 0, 0, 14, UInt8(ascii: "C"), UInt8(ascii: "h"), 0, UInt8(ascii: "4"), 0, 25]
            + Array("1.2.3.4".utf8) + [0])
        let macro = MilterCodec.encode([MilterCommand.macros(for: UInt8(ascii: "M"), [MilterMacro("i", "Q1")])])
        #expect(Array(macro.readableBytesView) == [0, 0, 0, 7, UInt8(ascii: "D"), UInt8(ascii: "M"), UInt8(ascii: "i"), 0, UInt8(ascii: "Q"), UInt8(ascii: "1"), 0])
        let chg = MilterCodec.encode([MilterReply.changeHeader(index: 1, name: "X", value: Array("v".utf8))])
        #expect(Array(chg.readableBytesView) == [0, 0, 0, 9, UInt8(ascii: "m"), 0, 0, 0, 1, UInt8(ascii: "X"), 0, UInt8(ascii: "v"), 0])
    }

    /// A NUL inside a value would shift every later field: it never reaches the wire.
    @Test func noNULInStrings() throws {
        var buffer = MilterCodec.encode([MilterCommand.header(name: "X", value: [UInt8(ascii: "a"), 0, UInt8(ascii: "b")])])
        let (code, data) = try #require(try MilterCodec.nextPacket(&buffer))
        #expect(try MilterCodec.decodeCommand(code: code, data: data) == .header(name: "X", value: Array("ab".utf8)))
    }

    static func packet(_ code: Character, _ data: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(data.count + 1))
        b.writeInteger(UInt8(code.asciiValue!))
        b.writeBytes(data)
        return b
    }

    static func reply(_ code: Character, _ data: [UInt8]) throws -> MilterReply {
        var b = packet(code, data)
        let (c, d) = try #require(try MilterCodec.nextPacket(&b))
        return try MilterCodec.decodeReply(code: c, data: d)
    }

    /// Whatever a broken filter sends is an error (its default action), never a crash.
    @Test func malformedReplies() throws {
        let bad: [(Character, [UInt8], String)] = [
            ("h", Array("X-Name".utf8), "header name without NUL"),
            ("h", Array("X-Name\0value".utf8), "value without NUL"),
            ("h", Array("Bad Name\0v\0".utf8), "space in a header name"),
            ("h", Array("Bad:Name\0v\0".utf8), "colon in a header name"),
            ("h", Array("\0v\0".utf8), "empty header name"),
            ("m", [0, 0, 1], "index cut short"),
            ("i", [0, 0, 0, 1] + Array("X\0v\0extra".utf8), "trailing octets"),
            ("c", [1], "data after CONTINUE"),
            ("y", Array("250 2.0.0 ok\0".utf8), "a success code as a refusal"),
            ("y", Array("550 4.7.1 mismatched class\0".utf8), "enhanced status of another class"),
            ("y", Array("55\0".utf8), "short code"),
            ("y", Array("550 bad\u{1}control\0".utf8), "control character"),
            ("y", Array("550-first\r\n551 second\0".utf8), "codes differ between lines"),
            ("y", Array("550 first\r\n550 second\0".utf8), "a space before the last line"),
            ("y", Array("550 ok".utf8), "no NUL"),
            ("e", Array("<a b@example.test>\0".utf8), "space in an address"),
            ("+", Array("<a\r\nb>\0".utf8), "line break in an address"),
            ("-", [], "no address"),
            ("q", [], "no reason"),
            ("O", [0, 0, 0, 6, 0, 0], "negotiation cut short"),
            ("O", [0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9] + Array("x\0".utf8), "unknown macro stage"),
            ("Z", [], "unknown reply"),
        ]
        for (code, data, why) in bad {
            #expect(throws: MilterProtocolError.self, "\(why)") { try Self.reply(code, data) }
        }
    }

    @Test func packetBounds() throws {
        var empty = ByteBuffer(bytes: [0, 0, 0, 0, 1])
        #expect(throws: MilterProtocolError.self) { try MilterCodec.nextPacket(&empty) }
        var huge = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF, UInt8(ascii: "b")])
        #expect(throws: MilterProtocolError.self, "refused from the length alone") { try MilterCodec.nextPacket(&huge) }
        var limit = ByteBuffer(bytes: [0, 0, 1, 0, UInt8(ascii: "b")])
        #expect(throws: MilterProtocolError.self) { try MilterCodec.nextPacket(&limit, maxLength: 255) }
        var short = ByteBuffer(bytes: [0, 0, 0])
        #expect(try MilterCodec.nextPacket(&short) == nil)
        #expect(short.readableBytes == 3)
    }

    /// SMFIR_REPLYCODE as libmilter's smfi_setreply and smfi_setmlreply write it.
    @Test func replyCodes() throws {
        let one = try #require(MilterSMTPReply("554 5.7.1 Gtube pattern"))
        #expect(one == MilterSMTPReply(code: 554, enhanced: [5, 7, 1], lines: ["Gtube pattern"]))
        let multi = try #require(MilterSMTPReply("550-5.7.1 first\r\n550 5.7.1 second"))
        #expect(multi == MilterSMTPReply(code: 550, enhanced: [5, 7, 1], lines: ["first", "second"]))
        #expect(multi.text == "550-5.7.1 first\r\n550 5.7.1 second")
        #expect(MilterSMTPReply("451 try later") == MilterSMTPReply(code: 451, enhanced: nil, lines: ["try later"]))
        #expect(MilterSMTPReply("550") == MilterSMTPReply(code: 550, enhanced: nil, lines: [""]))
        #expect(MilterSMTPReply("550 5.7.1") == MilterSMTPReply(code: 550, enhanced: [5, 7, 1], lines: [""]))
        for bad in ["", "600 x", "350 x", "55a x", "550-only continuation", "550-5.7.1 a\r\n550 5.7.2 b",
                    "550 " + String(repeating: "x", count: 600), "550 caf\u{e9}"] {
            #expect(MilterSMTPReply(bad) == nil, "\(bad)")
        }
    }
}
