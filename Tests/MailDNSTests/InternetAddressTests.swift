import MailDNS
import Testing

@Suite("InternetAddress and Nameserver")
struct AddressTests {
    @Test("IPv4 and IPv6 text round-trips in canonical form", arguments: [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::1", "::1"),
        ("::", "::"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("fe80::", "fe80::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func roundTrip(text: String, canonical: String) {
        #expect(InternetAddress(text)?.description == canonical)
    }

    @Test("non-addresses are nil", arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ":::", "1::2::3",
        "1:2:3:4:5:6:7:8:9", "12345::", "[::1]", "fe80::1%eth0", "1:2:3:4:5:6:7", "example.test", "::g",
    ])
    func rejects(text: String) {
        #expect(InternetAddress(text) == nil)
    }

    @Test("nameserver syntax", arguments: [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:5353", "127.0.0.1:5353"),
        ("::1", "[::1]:53"),
        ("[::1]", "[::1]:53"),
        ("[2001:db8::53]:5300", "[2001:db8::53]:5300"),
    ])
    func nameserver(text: String, expected: String) {
        #expect(Nameserver(text)?.description == expected)
    }

    @Test("bad nameservers are nil", arguments: [
        "", "ns.example.test", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "[127.0.0.1]:53",
        "[::1]53", "::1:53:", "1.2.3.4:53:53",
    ])
    func badNameserver(text: String) {
        #expect(Nameserver(text) == nil)
    }
}
