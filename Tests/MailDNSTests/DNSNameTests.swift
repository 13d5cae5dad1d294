import MailDNS
import Testing

@Suite("DNSName")
struct DNSNameTests {
    @Test("presentation format parses into labels", arguments: [
        ("example.test", ["example", "test"]),
        ("example.test.", ["example", "test"]),
        ("MX.Example.TEST", ["MX", "Example", "TEST"]),
        ("_25._tcp.mx.example.test", ["_25", "_tcp", "mx", "example", "test"]),
        ("localhost", ["localhost"]),
        (".", []),
    ])
    func parses(text: String, labels: [String]) throws {
        let parsed = try DNSName(text)
        #expect(parsed.labels == labels.map { Array($0.utf8) })
    }

    @Test("bad names are typed errors", arguments: [
        ("", DNSNameError.emptyLabel),
        ("a..b", .emptyLabel),
        (".a", .emptyLabel),
        ("..", .emptyLabel),
        (String(repeating: "a", count: 64) + ".test", .labelTooLong),
        (Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."), .nameTooLong),
        ("a b.test", .invalidCharacter),
        ("bad\u{0}.test", .invalidCharacter),
        ("bäd.test", .invalidCharacter),
        ("a\\.test", .invalidCharacter),
        (String(repeating: "a.", count: 200), .nameTooLong),
    ])
    func rejects(text: String, error: DNSNameError) {
        #expect(throws: error) { try DNSName(text) }
    }

    @Test("megabytes of input are refused without building labels")
    func hugeInput() {
        #expect(throws: DNSNameError.nameTooLong) { try DNSName(String(repeating: ".", count: 1_000_000)) }
    }

    @Test("limits: 63-octet labels and 255-octet names are the maximum")
    func limits() throws {
        let label63 = String(repeating: "a", count: 63)
        // 4 labels of 63 = 4*64 + 1 = 257 > 255; 3 of 63 and one of 61 = 3*64 + 62 + 1 = 255.
        let maximal = [label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: ".")
        let parsed = try DNSName(maximal)
        #expect(parsed.wireLength == 255)
        #expect(throws: DNSNameError.nameTooLong) { try DNSName(maximal + "b") }
        // 127 one-octet labels are exactly 255 octets; the 128th is one too many.
        let many = Array(repeating: [UInt8(ascii: "a")], count: 127)
        #expect(try DNSName(labels: many).wireLength == 255)
        #expect(throws: DNSNameError.tooManyLabels) { try DNSName(labels: many + [[0x61]]) }
        #expect(throws: DNSNameError.emptyLabel) { try DNSName(labels: [[]]) }
    }

    @Test("equality and hashing ignore ASCII case only")
    func caseInsensitive() {
        #expect(name("MX.Example.Test") == name("mx.example.test"))
        #expect(Set([name("A.test"), name("a.TEST")]).count == 1)
        #expect(name("a.test") != name("b.test"))
        #expect(name("a.test") != name("a.test.x"))
        let upper = try! DNSName(labels: [[0xC4]]), lower = try! DNSName(labels: [[0xE4]])
        #expect(upper != lower, "non-ASCII octets are compared exactly (RFC 4343 §3)")
    }

    @Test("description escapes octets that could smuggle control characters")
    func description() throws {
        #expect(name("mx.example.test").description == "mx.example.test")
        #expect(DNSName.root.description == ".")
        let hostile = try DNSName(labels: [Array("a.b".utf8), [0x0D, 0x0A, 0x41], [0x5C]])
        #expect(hostile.description == "a\\046b.\\013\\010A.\\092")
        #expect(name("MX.Test").lowercased.description == "mx.test")
    }

    @Test("subdomains and prepending")
    func subdomains() throws {
        #expect(name("a.b.test").isSubdomain(of: name("B.test")))
        #expect(name("b.test").isSubdomain(of: name("b.test")))
        #expect(!name("ab.test").isSubdomain(of: name("b.test")))
        #expect(name("x.test").isSubdomain(of: .root))
        #expect(try name("mx.test").prepending("_tcp").prepending("_25") == name("_25._tcp.mx.test"))
    }
}
