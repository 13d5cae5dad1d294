import MailDNS
import Testing

/// A message with one record of every decoded type plus an unknown one.
func richMessage() -> DNSMessage {
    let owner = name("Mail.Example.test")
    return DNSMessage(
        header: DNSHeader(id: 0xBEEF, isResponse: true, isAuthoritative: true, recursionDesired: true,
                          recursionAvailable: true, authenticData: true, rcode: 0),
        questions: [DNSQuestion(name: owner, type: .mx)],
        answers: [
            DNSResourceRecord(name: owner, ttl: 60, data: .cname(name("real.example.test"))),
            DNSResourceRecord(name: name("real.example.test"), ttl: 300, data: .mx(preference: 0, exchange: .root)),
            DNSResourceRecord(name: name("real.example.test"), ttl: 300, data: .mx(preference: 10, exchange: name("mx1.example.test"))),
            DNSResourceRecord(name: name("real.example.test"), ttl: 300, data: .txt([Array("v=spf1 -all".utf8), [], [UInt8](repeating: 0x7A, count: 255)])),
            DNSResourceRecord(name: name("_25._tcp.mx1.example.test"), ttl: 300,
                              data: .tlsa(TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1,
                                                     certificateAssociationData: Array(0..<32)))),
            DNSResourceRecord(name: name("1.0.0.127.in-addr.arpa"), ttl: 300, data: .ptr(name("localhost"))),
        ],
        authorities: [
            DNSResourceRecord(name: name("example.test"), ttl: 3600, data: .soa(SOARecord(
                primaryNameServer: name("ns1.example.test"), responsibleMailbox: name("hostmaster.example.test"),
                serial: 2024010101, refresh: 7200, retry: 900, expire: 1_209_600, minimum: 300))),
            DNSResourceRecord(name: name("example.test"), ttl: 3600, data: .ns(name("ns1.example.test"))),
        ],
        additionals: [
            DNSResourceRecord(name: name("mx1.example.test"), ttl: 300, data: .a(ip("192.0.2.25"))),
            DNSResourceRecord(name: name("mx1.example.test"), ttl: 300, data: .aaaa(ip("2001:db8::25"))),
            DNSResourceRecord(name: name("x.example.test"), recordClass: DNSClass(3), ttl: 1, data: .unknown(type: .a, data: [1])),
            DNSResourceRecord(name: name("x.example.test"), ttl: 1, data: .unknown(type: DNSRecordType(65280), data: [])),
            DNSResourceRecord(name: .root, recordClass: DNSClass(1232), ttl: 0x0000_8000,
                              data: .opt([EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])),
        ])
}

@Suite("DNSEncoder")
struct DNSEncoderTests {
    @Test("a query: random ID, RD and AD, one question, OPT with a 1232-octet payload")
    func queryBytes() throws {
        let bytes = try DNSEncoder.encode(DNSMessage.query(id: 0xABCD, name: name("b.test"), type: .mx))
        #expect(bytes == [
            0xAB, 0xCD, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1,
            1, 0x62, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 15, 0, 1,
            0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0,
        ])
        let plain = try DNSEncoder.encode(DNSMessage.query(id: 1, name: name("b.test"), type: .a, ednsPayloadSize: nil))
        #expect(plain.count == 24 && plain[11] == 0)
    }

    @Test("round trip with and without compression")
    func roundTrip() throws {
        let message = richMessage()
        let compressed = try DNSEncoder.encode(message)
        let plain = try DNSEncoder.encode(message, compress: false)
        #expect(try DNSParser.parse(compressed) == message)
        #expect(try DNSParser.parse(plain) == message)
        #expect(compressed.count < plain.count)
        #expect(compressed[12...].contains(0xC0), "compressed output uses pointers")
        #expect(!plain[12...].indices.contains { plain[$0] == 0xC0 && $0 + 1 < plain.count && plain[$0 + 1] == 0x0C })
    }

    @Test("re-encoding the hand-built response gives the same octets")
    func sameBytes() throws {
        let bytes = sampleResponse().bytes
        #expect(try DNSEncoder.encode(DNSParser.parse(bytes)) == bytes)
    }

    @Test("header flags round-trip bit by bit")
    func flags() throws {
        for bit in 0..<16 {
            var bytes = try DNSEncoder.encode(DNSMessage(header: DNSHeader(id: 7, recursionDesired: false)))
            bytes[2 + (1 - bit / 8)] |= UInt8(1 << (bit % 8))
            let parsed = try DNSParser.parse(bytes)
            #expect(try DNSEncoder.encode(parsed) == bytes, "flag bit \(bit)")
        }
    }

    @Test("what cannot be encoded is an error")
    func errors() {
        let tooLong = DNSMessage(header: DNSHeader(id: 1), answers: [
            DNSResourceRecord(name: name("x.test"), ttl: 1, data: .txt([[UInt8](repeating: 0, count: 256)])),
        ])
        #expect(throws: DNSEncodingError.characterStringTooLong) { try DNSEncoder.encode(tooLong) }
        let huge = DNSMessage(header: DNSHeader(id: 1), answers: [
            DNSResourceRecord(name: name("x.test"), ttl: 1, data: .unknown(type: DNSRecordType(99), data: [UInt8](repeating: 0, count: 70_000))),
        ])
        #expect(throws: DNSEncodingError.recordDataTooLong) { try DNSEncoder.encode(huge) }
        let many = DNSMessage(header: DNSHeader(id: 1), answers: Array(repeating: DNSResourceRecord(
            name: name("x.test"), ttl: 1, data: .unknown(type: DNSRecordType(99), data: [UInt8](repeating: 0, count: 60_000))), count: 2))
        #expect(throws: DNSEncodingError.messageTooLarge) { try DNSEncoder.encode(many) }
    }
}
