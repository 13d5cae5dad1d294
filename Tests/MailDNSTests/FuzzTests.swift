import MailDNS
import Testing

/// Seeded fuzzing of the wire format (DESIGN.md §5.9). Properties: the parser never traps or
/// hangs on any input; whatever it accepts re-encodes (compressed and not) to octets that parse
/// back to the same message; validation never traps; random well-formed messages round-trip.
@Suite("Fuzz")
struct FuzzTests {
    static var corpus: [[UInt8]] {
        [
            sampleResponse().bytes,
            try! DNSEncoder.encode(richMessage()),
            try! DNSEncoder.encode(richMessage(), compress: false),
            try! DNSEncoder.encode(DNSMessage.query(id: 9, name: name("_25._tcp.mx.example.test"), type: .tlsa)),
        ]
    }

    static func mutate(_ input: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var out = input
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            guard !out.isEmpty else { out = [0]; continue }
            let i = Int.random(in: 0..<out.count, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0: out[i] = UInt8.random(in: 0...255, using: &rng)
            case 1: out[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 2: out.insert(UInt8.random(in: 0...255, using: &rng), at: i)
            case 3: out.remove(at: i)
            case 4: out = Array(out.prefix(i))
            case 5:
                // A compression pointer to a random earlier (or later) offset.
                if i + 1 < out.count {
                    out[i] = 0xC0 | UInt8.random(in: 0...0x3F, using: &rng) & (out.count > 255 ? 0x3F : 0)
                    out[i + 1] = UInt8.random(in: 0...UInt8(min(255, out.count)), using: &rng)
                }
            case 6:
                // Inflate a count or a length field.
                out[i] = [0, 1, 2, 0x3F, 0x40, 0x7F, 0x80, 0xFF].randomElement(using: &rng)!
            case 7:
                let j = Int.random(in: i...min(out.count, i + 40), using: &rng)
                out.insert(contentsOf: out[i..<j], at: Int.random(in: 0...out.count, using: &rng))
            default:
                let j = Int.random(in: i...min(out.count, i + 40), using: &rng)
                out.removeSubrange(i..<j)
            }
        }
        return out
    }

    /// Parses; if accepted, checks the re-encode properties. Returns whether it parsed.
    @discardableResult
    static func check(_ input: [UInt8]) -> Bool {
        _ = try? DNSParser.parseHeader(input)
        guard let message = try? DNSParser.parse(input) else { return false }
        let query = DNSMessage.query(id: message.header.id, name: message.questions.first?.name ?? .root,
                                     type: message.questions.first?.type ?? .a)
        _ = try? message.validate(asResponseTo: query)
        _ = message.responseCode
        _ = message.edns
        for compress in [true, false] {
            do {
                let encoded = try DNSEncoder.encode(message, compress: compress)
                let again = try DNSParser.parse(encoded)
                if again != message {
                    Issue.record("round trip changed \(input) (compress: \(compress))")
                }
            } catch DNSEncodingError.messageTooLarge {
                // Expanding compression can push a parsed message past 65535 octets: allowed.
            } catch {
                Issue.record("accepted message failed to re-encode or re-parse: \(error) for \(input)")
            }
        }
        return true
    }

    @Test("mutated valid packets: no crash, accepted ones round-trip")
    func mutated() {
        var rng = SeededRNG(seed: 0xD15_0001)
        let corpus = Self.corpus
        var accepted = 0
        for _ in 0..<20_000 {
            var input = corpus.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) { input = Self.mutate(input, &rng) }
            if Self.check(input) { accepted += 1 }
        }
        // The mutations must leave some inputs valid, or this tests only the error paths.
        #expect(accepted > 500, "accepted \(accepted)")
    }

    @Test("random octets: no crash")
    func random() {
        var rng = SeededRNG(seed: 0xD15_0002)
        for round in 0..<10_000 {
            let length = Int.random(in: 0...(round % 10 == 0 ? 4000 : 300), using: &rng)
            var input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if input.count >= 12, Bool.random(using: &rng) {
                // Plausible small counts so the parser gets past the header.
                for k in stride(from: 4, to: 12, by: 2) {
                    input[k] = 0
                    input[k + 1] = UInt8.random(in: 0...3, using: &rng)
                }
            }
            Self.check(input)
        }
    }

    @Test("pointer soup: names made only of labels and pointers terminate")
    func pointerSoup() {
        var rng = SeededRNG(seed: 0xD15_0003)
        for _ in 0..<5_000 {
            var p = PacketBuilder(flags: 0x8180, qd: UInt16.random(in: 1...4, using: &rng))
            for _ in 0..<Int.random(in: 20...200, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: p.pointer(Int.random(in: 0..<max(1, p.bytes.count + 10), using: &rng))
                case 1: p.u8(0)
                default:
                    let count = Int.random(in: 1...8, using: &rng)
                    p.u8(UInt8(count))
                    for _ in 0..<count { p.u8(UInt8.random(in: 0x61...0x7A, using: &rng)) }
                }
            }
            Self.check(p.bytes)
        }
    }

    static func randomName(_ rng: inout SeededRNG) -> DNSName {
        if Int.random(in: 0..<10, using: &rng) == 0 { return .root }
        let pool = ["a", "B", "mx", "example", "test", "_25", "_tcp", String(repeating: "x", count: 63)]
        var labels: [[UInt8]] = []
        for _ in 0..<Int.random(in: 1...5, using: &rng) { labels.append(Array(pool.randomElement(using: &rng)!.utf8)) }
        return (try? DNSName(labels: labels)) ?? name("fallback.test")
    }

    static func randomRecord(_ rng: inout SeededRNG) -> DNSResourceRecord {
        let data: DNSRecordData
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: data = .a(InternetAddress(bytes: (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) })!)
        case 1: data = .aaaa(InternetAddress(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })!)
        case 2: data = .cname(randomName(&rng))
        case 3: data = .mx(preference: UInt16.random(in: 0...100, using: &rng), exchange: randomName(&rng))
        case 4: data = .txt((0..<Int.random(in: 1...3, using: &rng)).map { _ in
            (0..<Int.random(in: 0...255, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } })
        case 5: data = .soa(SOARecord(primaryNameServer: randomName(&rng), responsibleMailbox: randomName(&rng),
                                      serial: rng.next32(), refresh: rng.next32(), retry: rng.next32(),
                                      expire: rng.next32(), minimum: rng.next32()))
        case 6: data = .tlsa(TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1,
                                        certificateAssociationData: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        case 7: data = .ptr(randomName(&rng))
        case 8: data = .ns(randomName(&rng))
        default: data = .unknown(type: DNSRecordType(UInt16.random(in: 100...300, using: &rng)),
                                 data: (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
        return DNSResourceRecord(name: randomName(&rng), ttl: rng.next32(), data: data)
    }

    @Test("random well-formed messages round-trip exactly")
    func generated() throws {
        var rng = SeededRNG(seed: 0xD15_0004)
        for _ in 0..<3_000 {
            var message = DNSMessage(header: DNSHeader(id: UInt16.random(in: 0...0xFFFF, using: &rng),
                                                       flags: UInt16.random(in: 0...0xFFFF, using: &rng)))
            message.questions = (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                DNSQuestion(name: Self.randomName(&rng), type: DNSRecordType(UInt16.random(in: 1...60, using: &rng)))
            }
            message.answers = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Self.randomRecord(&rng) }
            message.authorities = (0..<Int.random(in: 0...2, using: &rng)).map { _ in Self.randomRecord(&rng) }
            message.additionals = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Self.randomRecord(&rng) }
            if Bool.random(using: &rng) {
                message.additionals.append(DNSResourceRecord(name: .root, recordClass: DNSClass(1232), ttl: 0, data: .opt([])))
            }
            for compress in [true, false] {
                let bytes = try DNSEncoder.encode(message, compress: compress)
                #expect(try DNSParser.parse(bytes) == message)
                // Every strict prefix fails cleanly.
                let cut = Int.random(in: 0..<bytes.count, using: &rng)
                #expect(throws: DNSParseError.self) { try DNSParser.parse(Array(bytes.prefix(cut))) }
            }
        }
    }
}

extension SeededRNG {
    mutating func next32() -> UInt32 { UInt32(truncatingIfNeeded: next()) }
}

extension DNSHeader {
    init(id: UInt16, flags: UInt16) {
        self.init(id: id, isResponse: flags & 0x8000 != 0, opcode: UInt8((flags >> 11) & 0x0F),
                  isAuthoritative: flags & 0x0400 != 0, isTruncated: flags & 0x0200 != 0,
                  recursionDesired: flags & 0x0100 != 0, recursionAvailable: flags & 0x0080 != 0,
                  zBit: flags & 0x0040 != 0, authenticData: flags & 0x0020 != 0,
                  checkingDisabled: flags & 0x0010 != 0, rcode: UInt8(flags & 0x0F))
    }
}
