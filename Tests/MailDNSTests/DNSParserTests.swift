import MailDNS
import Testing

/// A response to `b.test MX` using compression everywhere a real server would: two MX records,
/// an NS in authority, glue and an OPT record in additional.
func sampleResponse() -> (bytes: [UInt8], mxLabelOffset: Int) {
    var p = PacketBuilder(id: 0x1234, flags: 0x8180, qd: 1, an: 2, ns: 1, ar: 2)
    p.question("b.test", type: 15)                     // offsets 12...23, name at 12
    p.pointer(12)
    p.recordHeader(type: 15, ttl: 300, rdlength: 7)
    p.u16(10)
    let mxLabel = p.bytes.count
    p.labels("mx", terminate: false)
    p.pointer(12)                                      // mx.b.test
    p.pointer(12)
    p.recordHeader(type: 15, ttl: 200, rdlength: 8)
    p.u16(20)
    p.labels("mx2", terminate: false)
    p.pointer(12)                                      // mx2.b.test
    p.pointer(12)
    p.recordHeader(type: 2, ttl: 3600, rdlength: 5)
    p.labels("ns", terminate: false)
    p.pointer(12)                                      // ns.b.test
    p.pointer(mxLabel)
    p.recordHeader(type: 1, ttl: 300, rdlength: 4)     // mx.b.test A 127.0.0.2
    p.bytes += [127, 0, 0, 2]
    p.u8(0)                                            // OPT: root owner
    p.u16(41)
    p.u16(1232)
    p.u32(0)
    p.u16(0)
    return (p.bytes, mxLabel)
}

@Suite("DNSParser")
struct DNSParserTests {
    @Test("a compressed response parses completely")
    func validResponse() throws {
        let message = try DNSParser.parse(sampleResponse().bytes)
        #expect(message.header.id == 0x1234)
        #expect(message.header.isResponse && message.header.recursionDesired && message.header.recursionAvailable)
        #expect(!message.header.isTruncated)
        #expect(message.responseCode == .noError)
        #expect(message.questions == [DNSQuestion(name: name("b.test"), type: .mx)])
        #expect(message.answers == [
            DNSResourceRecord(name: name("b.test"), ttl: 300, data: .mx(preference: 10, exchange: name("mx.b.test"))),
            DNSResourceRecord(name: name("b.test"), ttl: 200, data: .mx(preference: 20, exchange: name("mx2.b.test"))),
        ])
        #expect(message.authorities == [DNSResourceRecord(name: name("b.test"), ttl: 3600, data: .ns(name("ns.b.test")))])
        #expect(message.additionals.first == DNSResourceRecord(name: name("mx.b.test"), ttl: 300, data: .a(ip("127.0.0.2"))))
        #expect(message.edns == EDNSInfo(udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOK: false, options: []))
    }

    @Test("every truncation of a valid packet is an error, never a crash")
    func everyPrefix() {
        let bytes = sampleResponse().bytes
        for length in 0..<bytes.count {
            #expect(throws: DNSParseError.self, "prefix of \(length) octets") { try DNSParser.parse(Array(bytes.prefix(length))) }
        }
        // Trailing octets after the last record are tolerated (padding middleboxes).
        #expect(throws: Never.self) { try DNSParser.parse(bytes + [0, 0, 0]) }
    }

    @Test("compression pointers: loops, self-references and forward references are errors")
    func pointerAbuse() {
        // The question's name points at itself.
        var selfLoop = PacketBuilder(flags: 0x8180, qd: 1)
        selfLoop.pointer(12)
        selfLoop.u16(1); selfLoop.u16(1)
        #expect(throws: DNSParseError.badPointer(offset: 12)) { try DNSParser.parse(selfLoop.bytes) }

        // A label then a pointer back to that label: a two-step loop.
        var twoStep = PacketBuilder(flags: 0x8180, qd: 1)
        twoStep.labels("abcde", terminate: false)
        twoStep.pointer(12)
        twoStep.u16(1); twoStep.u16(1)
        #expect(throws: DNSParseError.badPointer(offset: 18)) { try DNSParser.parse(twoStep.bytes) }

        // A record owner pointing into opaque RDATA that holds a label and a pointer back to that
        // label: every pointer points before its own position, yet the walk would cycle forever.
        // Strictly decreasing targets catch it.
        var cycle = PacketBuilder(flags: 0x8180, qd: 0, an: 2)
        cycle.u8(0)                                        // 12: root owner
        cycle.recordHeader(type: 99, rdlength: 8)          // 13...22
        cycle.labels("abcde", terminate: false)            // 23...28
        cycle.pointer(23)                                  // 29: back to 23
        cycle.pointer(23)                                  // 31: the second record's owner
        cycle.recordHeader(type: 1, rdlength: 4)
        cycle.bytes += [1, 2, 3, 4]
        #expect(throws: DNSParseError.badPointer(offset: 29)) { try DNSParser.parse(cycle.bytes) }

        // A forward pointer.
        var forward = PacketBuilder(flags: 0x8180, qd: 1)
        forward.pointer(40)
        forward.u16(1); forward.u16(1)
        forward.bytes += [UInt8](repeating: 0, count: 40)
        #expect(throws: DNSParseError.badPointer(offset: 12)) { try DNSParser.parse(forward.bytes) }

        // A pointer cut in half at the end of the message.
        var half = PacketBuilder(flags: 0x8180, qd: 1)
        half.u8(0xC0)
        #expect(throws: DNSParseError.self) { try DNSParser.parse(half.bytes) }
    }

    @Test("a chain of valid pointers still cannot build a name over 255 octets")
    func longNameThroughPointers() {
        var p = PacketBuilder(flags: 0x8180, qd: 3)
        let first = p.bytes.count
        for _ in 0..<3 { p.labels(String(repeating: "a", count: 60), terminate: false) }
        p.u8(0)                                            // 3 x 61 + 1 = 184 octets
        p.u16(1); p.u16(1)
        let second = p.bytes.count
        p.labels(String(repeating: "b", count: 50), terminate: false)
        p.pointer(first)                                   // 51 + 184 = 235 octets: fine
        p.u16(1); p.u16(1)
        p.labels(String(repeating: "c", count: 30), terminate: false)
        p.pointer(second)                                  // 31 + 235 = 266 octets: too long
        p.u16(1); p.u16(1)
        #expect(throws: DNSParseError.self) { try DNSParser.parse(p.bytes) }
        do {
            _ = try DNSParser.parse(p.bytes)
        } catch {
            guard case .nameTooLong = error else { Issue.record("expected nameTooLong, got \(error)"); return }
        }
        var ok = p
        ok.bytes[5] = 2                                    // only the first two questions
        #expect(throws: Never.self) { try DNSParser.parse(Array(ok.bytes)) }
    }

    static let oversizedNames: [([UInt8], String)] = {
        // A length octet of 64 (0b01 prefix): longer than 63 and an obsolete label type.
        let label64: [UInt8] = [0x40] + [UInt8](repeating: 0x61, count: 64) + [0]
        let extended: [UInt8] = [0x80, 0x61, 0]
        var manyLabels: [UInt8] = []
        for _ in 0..<128 { manyLabels += [1, 0x61] }
        var longName: [UInt8] = []
        for _ in 0..<5 { longName += [63] + [UInt8](repeating: 0x61, count: 63) }
        return [(label64, "labelTooLong"), (extended, "badLabelType"), (manyLabels + [0], "tooManyLabels"),
                (longName + [0], "nameTooLong")]
    }()

    @Test("label and name limits", arguments: oversizedNames)
    func nameLimits(name: [UInt8], expected: String) {
        var p = PacketBuilder(flags: 0x8180, qd: 1)
        p.bytes += name
        p.u16(1); p.u16(1)
        do {
            let message = try DNSParser.parse(p.bytes)
            Issue.record("parsed \(message)")
        } catch {
            #expect("\(error)".isEmpty == false)
            let kind: String
            switch error {
            case .labelTooLong: kind = "labelTooLong"
            case .badLabelType: kind = "badLabelType"
            case .tooManyLabels: kind = "tooManyLabels"
            case .nameTooLong: kind = "nameTooLong"
            default: kind = "\(error)"
            }
            #expect(kind == expected)
        }
    }

    @Test("section counts larger than the packet are refused before anything is allocated")
    func counts() {
        #expect(throws: DNSParseError.countExceedsPacket(section: "question")) {
            try DNSParser.parse(PacketBuilder(qd: 0xFFFF).bytes)
        }
        var p = PacketBuilder(flags: 0x8180, qd: 1, an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF)
        p.question("b.test", type: 1)
        #expect(throws: DNSParseError.countExceedsPacket(section: "record")) { try DNSParser.parse(p.bytes) }
        #expect(throws: DNSParseError.messageTooLarge) { try DNSParser.parse([UInt8](repeating: 0, count: 65536)) }
        #expect(throws: DNSParseError.truncated(offset: 0)) { try DNSParser.parse([]) }
    }

    @Test("RDATA must match RDLENGTH")
    func rdataLengths() throws {
        func record(type: UInt16, rdata: [UInt8], rdlength: Int? = nil, qclass: UInt16 = 1) -> [UInt8] {
            var p = PacketBuilder(flags: 0x8180, qd: 0, an: 1)
            p.labels("x.test")
            p.recordHeader(type: type, rdlength: rdlength ?? rdata.count, qclass: qclass)
            p.bytes += rdata
            return p.bytes
        }
        #expect(throws: DNSParseError.badRecordData(type: .a, reason: "length 5, not 4")) {
            try DNSParser.parse(record(type: 1, rdata: [1, 2, 3, 4, 5]))
        }
        #expect(throws: DNSParseError.badRecordData(type: .aaaa, reason: "length 4, not 16")) {
            try DNSParser.parse(record(type: 28, rdata: [1, 2, 3, 4]))
        }
        // RDLENGTH past the end of the message.
        #expect(throws: DNSParseError.truncated(offset: 33)) { try DNSParser.parse(record(type: 1, rdata: [1, 2, 3], rdlength: 4)) }
        // An MX exchange running past RDLENGTH.
        #expect(throws: DNSParseError.self) { try DNSParser.parse(record(type: 15, rdata: [0, 10, 5, 0x61], rdlength: 4) + [0x62, 0x63, 0x64, 0x65, 0]) }
        // A name with octets to spare inside RDATA.
        #expect(throws: DNSParseError.badRecordData(type: .cname, reason: "1 octets left over")) {
            try DNSParser.parse(record(type: 5, rdata: [1, 0x61, 0, 0xFF]))
        }
        // TXT: empty RDATA, and a string longer than what is left.
        #expect(throws: DNSParseError.badRecordData(type: .txt, reason: "no character-string")) {
            try DNSParser.parse(record(type: 16, rdata: []))
        }
        #expect(throws: DNSParseError.badRecordData(type: .txt, reason: "string runs past RDATA")) {
            try DNSParser.parse(record(type: 16, rdata: [5, 0x61]))
        }
        // SOA with short timers, TLSA without its three fixed octets, OPT with a cut option.
        #expect(throws: DNSParseError.self) { try DNSParser.parse(record(type: 6, rdata: [0, 0, 1, 2, 3])) }
        #expect(throws: DNSParseError.self) { try DNSParser.parse(record(type: 52, rdata: [3, 1])) }
        // A in a class other than IN is not an IPv4 address: kept raw.
        #expect(try DNSParser.parse(record(type: 1, rdata: [1, 2, 3], qclass: 3)).answers.first?.data
            == .unknown(type: .a, data: [1, 2, 3]))
        // Unknown types round-trip as raw octets.
        #expect(try DNSParser.parse(record(type: 99, rdata: [9, 8, 7])).answers.first?.data
            == .unknown(type: DNSRecordType(99), data: [9, 8, 7]))
    }

    @Test("TXT, SOA, TLSA, AAAA, PTR and OPT decode")
    func recordTypes() throws {
        var p = PacketBuilder(flags: 0x8183, qd: 1, an: 4, ns: 1, ar: 1)
        p.question("t.test", type: 16)
        p.pointer(12)
        p.recordHeader(type: 16, rdlength: 11)
        p.bytes += [3] + Array("v=s".utf8) + [0] + [5] + Array("pf1 a".utf8)
        p.pointer(12)
        p.recordHeader(type: 52, rdlength: 5)
        p.bytes += [3, 1, 1, 0xAB, 0xCD]
        p.pointer(12)
        p.recordHeader(type: 28, rdlength: 16)
        p.bytes += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        p.pointer(12)
        p.recordHeader(type: 12, rdlength: 2)
        p.pointer(14)                                      // "test"
        p.pointer(14)
        p.recordHeader(type: 6, ttl: 900, rdlength: 3 + 2 + 2 + 20)
        p.labels("ns", terminate: false); p.pointer(12)   // ns.t.test
        p.pointer(14)                                      // test
        for value: UInt32 in [7, 3600, 600, 86400, 60] { p.u32(value) }
        p.u8(0)
        p.u16(41); p.u16(4096); p.u32(0x0100_8000)        // extended RCODE 1, version 0, DO
        p.u16(8); p.u16(10); p.u16(4); p.bytes += [1, 2, 3, 4]
        let message = try DNSParser.parse(p.bytes)
        #expect(message.answers.map(\.data) == [
            .txt([Array("v=s".utf8), [], Array("pf1 a".utf8)]),
            .tlsa(TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1, certificateAssociationData: [0xAB, 0xCD])),
            .aaaa(ip("2001:db8::1")),
            .ptr(name("test")),
        ])
        #expect(message.authorities.first?.data == .soa(SOARecord(
            primaryNameServer: name("ns.t.test"), responsibleMailbox: name("test"), serial: 7, refresh: 3600,
            retry: 600, expire: 86400, minimum: 60)))
        let edns = try #require(message.edns)
        #expect(edns.udpPayloadSize == 4096 && edns.dnssecOK && edns.extendedRcode == 1)
        #expect(edns.options == [EDNSOption(code: 10, data: [1, 2, 3, 4])])
        // Header RCODE 3 with extended RCODE 1: (1 << 4) | 3 = 19.
        #expect(message.responseCode.rawValue == 19)
    }

    @Test("OPT only once, owned by the root, only in additional")
    func optPlacement() {
        func opt(_ p: inout PacketBuilder, owner: String? = nil) {
            if let owner { p.labels(owner) } else { p.u8(0) }
            p.u16(41); p.u16(1232); p.u32(0); p.u16(0)
        }
        var inAnswer = PacketBuilder(flags: 0x8180, qd: 0, an: 1)
        opt(&inAnswer)
        #expect(throws: DNSParseError.badOPT("outside the additional section")) { try DNSParser.parse(inAnswer.bytes) }
        var twice = PacketBuilder(flags: 0x8180, qd: 0, ar: 2)
        opt(&twice); opt(&twice)
        #expect(throws: DNSParseError.badOPT("more than one")) { try DNSParser.parse(twice.bytes) }
        var owned = PacketBuilder(flags: 0x8180, qd: 0, ar: 1)
        opt(&owned, owner: "x.test")
        #expect(throws: DNSParseError.badOPT("owner is not the root")) { try DNSParser.parse(owned.bytes) }
    }

    @Test("response validation: ID, QR, opcode, question (case-insensitive)")
    func validation() throws {
        let query = DNSMessage.query(id: 0x1234, name: name("b.test"), type: .mx)
        let good = try DNSParser.parse(sampleResponse().bytes)
        #expect(throws: Never.self) { try good.validate(asResponseTo: query) }

        var wrongID = good
        wrongID.header.id = 0x4321
        #expect(throws: DNSResponseMismatch.wrongID) { try wrongID.validate(asResponseTo: query) }
        var notResponse = good
        notResponse.header.isResponse = false
        #expect(throws: DNSResponseMismatch.notAResponse) { try notResponse.validate(asResponseTo: query) }
        var opcode = good
        opcode.header.opcode = 2
        #expect(throws: DNSResponseMismatch.wrongOpcode) { try opcode.validate(asResponseTo: query) }
        var otherName = good
        otherName.questions = [DNSQuestion(name: name("evil.test"), type: .mx)]
        #expect(throws: DNSResponseMismatch.wrongQuestion) { try otherName.validate(asResponseTo: query) }
        var otherType = good
        otherType.questions = [DNSQuestion(name: name("b.test"), type: .a)]
        #expect(throws: DNSResponseMismatch.wrongQuestion) { try otherType.validate(asResponseTo: query) }
        var noQuestion = good
        noQuestion.questions = []
        #expect(throws: DNSResponseMismatch.wrongQuestion) { try noQuestion.validate(asResponseTo: query) }
        var mixedCase = good
        mixedCase.questions = [DNSQuestion(name: name("B.TeSt"), type: .mx)]
        #expect(throws: Never.self) { try mixedCase.validate(asResponseTo: query) }
        // RFC 6891 §7: an old server may answer FORMERR without echoing the question.
        var formerr = noQuestion
        formerr.header.rcode = 1
        formerr.additionals = []
        #expect(throws: Never.self) { try formerr.validate(asResponseTo: query) }
    }

    @Test("parseHeader reads only the 12 header octets")
    func header() throws {
        let header = try DNSParser.parseHeader([0xAB, 0xCD, 0x83, 0x83])
        #expect(header.id == 0xABCD && header.isResponse && header.isTruncated && header.rcode == 3)
        #expect(throws: DNSParseError.truncated(offset: 2)) { try DNSParser.parseHeader([1, 2, 3]) }
    }
}
