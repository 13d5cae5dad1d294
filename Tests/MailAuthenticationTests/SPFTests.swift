@testable import MailAuthentication
import Testing

@Suite("SPF")
struct SPFTests {
    // MARK: - Addresses (RFC 7208 §5.6)

    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("::FFFF:192.0.2.1", "192.0.2.1"),
        ("[192.0.2.1]", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("::1.2.3.4", "::102:304"),
        ("fe80::1%eth0", "fe80::1"),
        ("IPv6:2001:db8::2", "2001:db8::2"),
    ])
    func clientAddressesParseAndPrint(_ text: String, _ readable: String) throws {
        #expect(try #require(SPFAddress(client: text)).readable == readable)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.4 ", "::1::", ":1::2", "1:2:3:4:5:6:7:8:9",
                      "1:2:3:4:5:6:7", "12345::", "g::1", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "1.2.3.4::"])
    func badAddressesAreRefused(_ text: String) {
        #expect(SPFAddress(client: text) == nil)
    }

    @Test func cidrMatching() throws {
        let v4 = try #require(SPFAddress(client: "192.0.2.130"))
        #expect(v4.isIn(.v4(0xC000_0280), prefix: 25))
        #expect(!v4.isIn(.v4(0xC000_0200), prefix: 25))
        #expect(v4.isIn(.v4(0), prefix: 0))
        let v6 = try #require(SPFAddress(client: "2001:db8:1234::cafe"))
        let network = try #require(SPFAddress(client: "2001:db8:1234:ffff::"))
        #expect(v6.isIn(network, prefix: 48))
        #expect(!v6.isIn(network, prefix: 64))
        #expect(v6.isIn(v6, prefix: 128))
        #expect(!v6.isIn(.v4(0), prefix: 0), "families never match")
        #expect(v6.dotted.hasPrefix("2.0.0.1.0.D.B.8.1.2.3.4."))
        #expect(v6.reverseName.hasSuffix(".4.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa"))
        #expect(v4.reverseName == "130.2.0.192.in-addr.arpa")
    }

    // MARK: - Record syntax (RFC 7208 §4.6.1, §5, §6, §7.1)

    @Test(arguments: [
        "v=spf1", "v=spf1 -all", "V=SPF1 +A:Example.COM/24//64 MX ~all", "v=spf1 a/0 mx//0 ptr ptr:example.com",
        "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4", "v=spf1 include:_spf.example.com ?exists:%{ir}.%{l1r+-}._spf.%{d}",
        "v=spf1 redirect=_spf.example.com", "v=spf1 exp=explain._spf.%{d} -all", "v=spf1 moo.cow-far_out=man:dog/cat",
        "v=spf1 a:foo:bar/baz.example.com", "v=spf1 a:%{d}", "v=spf1 a:example.com. -all", "v=spf1 a:%%%_%-.example.xn--zckzah",
        "v=spf1 default=+", "v=spf1 unknown=", "v=spf1  a   -all  ",
    ])
    func validRecords(_ text: String) throws {
        #expect(SPFRecord.isSPFRecord(text))
        _ = try SPFRecord.parse(text)
    }

    @Test(arguments: [
        "v=spf1 -all.", "v=spf1 -all:x", "v=spf1 all/8", "v=spf1 ptr/0", "v=spf1 ptr:", "v=spf1 include", "v=spf1 include:",
        "v=spf1 include:example.com/24", "v=spf1 exists", "v=spf1 exists:x.example.com/24", "v=spf1 a:", "v=spf1 a/33",
        "v=spf1 a//129", "v=spf1 a/24/64", "v=spf1 a/024", "v=spf1 a:museum", "v=spf1 a:museum.", "v=spf1 a:abc.123",
        "v=spf1 a:example.-com", "v=spf1 a:111.222.33.44", "v=spf1 ip4", "v=spf1 ip4:1.2.3", "v=spf1 ip4:1.2.3.4/33",
        "v=spf1 ip4:1.2.3.4/032", "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:1.2.3.4:8080", "v=spf1 ip6:::1/129",
        "v=spf1 ip6::CAFE::BABE", "v=spf1 ip6:::1//33", "v=spf1 redirect:example.com", "v=spf1 redirect=",
        "v=spf1 redirect=-all", "v=spf1 exp=", "v=spf1 exp=a.example.com exp=b.example.com",
        "v=spf1 redirect=a.example.com redirect=a.example.com", "v=spf1 1up=foo", "v=spf1 =all", "v=spf1 foo=%abc",
        "v=spf1 moo.cow/far_out=man:dog/cat", "v=spf1 a:%{x}.example.com", "v=spf1 a:%{d0}", "v=spf1 exists:%{c}.example.com",
        "v=spf1 exp=%{r}.example.com", "v=spf1 exists:%(ir).example.com", "v=spf1 exists:foo%.example.com", "v=spf1 a:%{d",
        "v=spf1 a:ctrl.example.com\rptr", "v=spf1 a:é.example.com", "v=spf1 ip4:1.2.3.4 -all moo", "v=spf1 a:foo.example.com\0",
    ])
    func invalidRecords(_ text: String) {
        #expect(throws: SPFSyntaxError.self) { try SPFRecord.parse(text) }
    }

    @Test func recordSelection() {
        #expect(SPFRecord.isSPFRecord("v=spf1"))
        #expect(SPFRecord.isSPFRecord("V=Spf1 -all"))
        #expect(!SPFRecord.isSPFRecord("v=spf10"))
        #expect(!SPFRecord.isSPFRecord("v=spf1mx"))
        #expect(!SPFRecord.isSPFRecord(" v=spf1 -all"))
        #expect(!SPFRecord.isSPFRecord("spf2.0/pra -all"))
    }

    @Test func parsedRecordShape() throws {
        let record = try SPFRecord.parse("v=spf1 ~a:example.com/24//64 ?mx ip4:192.0.2.0/24 redirect=r.example.com exp=e.%{d}")
        #expect(record.directives.count == 3)
        #expect(record.directives[0].qualifier == .softfail)
        guard case let .a(target?, 24, 64) = record.directives[0].mechanism else {
            Issue.record("a:example.com/24//64 parsed as \(record.directives[0].mechanism)")
            return
        }
        #expect(target.tokens == [.literal("example.com")])
        #expect(record.directives[1] == SPFDirective(qualifier: .neutral, mechanism: .mx(nil, ip4Prefix: 32, ip6Prefix: 128)))
        #expect(record.directives[2].mechanism == .ip(.v4(0xC000_0200), prefix: 24))
        #expect(record.redirect != nil && record.explanation != nil)
    }

    // MARK: - Macros (RFC 7208 §7.4's examples)

    static let macroExamples: [(String, String)] = [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        // Not from §7.4: escapes, URL-escaping and several delimiters.
        ("%%%_%-", "% %20"),
        ("%{S}", "strong-bad%40email.example.com"),
        ("%{l+-}", "strong.bad"),
        ("%{d999}", "email.example.com"),
        ("%{h}", "mx.example.org"),
    ]

    @Test(arguments: macroExamples)
    func macroExpansion(_ macro: String, _ expected: String) async throws {
        let spec = try #require(SPFMacroString(parsing: Array(macro.utf8)[...], context: .explanation))
        let verifier = SPFVerifier(resolver: SPFFakeResolver(""))
        let context = SPFVerifier.Context(ip: .v4(0xC000_0203), localPart: "strong-bad", senderDomain: "email.example.com",
                                          helo: "mx.example.org")
        var state = SPFVerifier.State()
        let expanded = await verifier.expand(spec, domain: "email.example.com", context, &state)
        #expect(expanded == expected)
    }

    @Test func macroExpansionOfIPv6AndExplanationLetters() async throws {
        let verifier = SPFVerifier(resolver: SPFFakeResolver(""), now: { 1_234_567 })
        let ip = try #require(SPFAddress(client: "2001:db8::cb01"))
        let context = SPFVerifier.Context(ip: ip, localPart: "a", senderDomain: "email.example.com", helo: "h.example")
        var state = SPFVerifier.State()
        let spec = try #require(SPFMacroString(parsing: Array("%{ir}.%{v}._spf.%{d2} %{c} %{r} %{t} %{p}".utf8)[...],
                                               context: .explanation))
        let expanded = await verifier.expand(spec, domain: "email.example.com", context, &state)
        #expect(expanded
            == "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com 2001:db8::cb01 unknown 1234567 unknown")
    }

    @Test func urlEscaping() {
        #expect(SPFMacro.urlEscaped("~jack&jill=up-a_b3.c") == "~jack%26jill%3Dup-a_b3.c")
        #expect(SPFMacro.urlEscaped("a b/é\n") == "a%20b%2F%C3%A9%0A")
    }

    // MARK: - check_host() (RFC 7208 §4, §5, §6)

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var zone: String
        var ip = "192.0.2.10"
        var sender = "user@example.com"
        var helo = "mail.example.org"
        var result: SPFResult
        var explanation: String?

        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "ip4 match passes", zone: "example.com TXT v=spf1 ip4:192.0.2.0/24 -all", result: .pass),
        Row(name: "no match falls to -all", zone: "example.com TXT v=spf1 ip4:198.51.100.0/24 -all", result: .fail,
            explanation: "example.com does not designate 192.0.2.10 as a permitted sender (SPF fail)"),
        Row(name: "~all", zone: "example.com TXT v=spf1 ~all", result: .softfail),
        Row(name: "?all", zone: "example.com TXT v=spf1 ?all", result: .neutral),
        Row(name: "nothing matches: neutral", zone: "example.com TXT v=spf1 ip4:198.51.100.1", result: .neutral),
        Row(name: "other TXT records are ignored", zone: """
            example.com TXT google-site-verification=abc
            example.com TXT v=spf1 +all
            """, result: .pass),
        Row(name: "no TXT: none", zone: "example.com A 192.0.2.10", result: .none),
        Row(name: "NXDOMAIN: none", zone: "", result: .none),
        Row(name: "no SPF among TXT: none", zone: "example.com TXT hello", result: .none),
        Row(name: "TXT timeout: temperror", zone: "example.com TXT !timeout", result: .temperror,
            explanation: "DNS error looking up TXT example.com: timeout"),
        Row(name: "two records: permerror", zone: "example.com TXT v=spf1 -all\nexample.com TXT v=spf1 +all", result: .permerror,
            explanation: "example.com publishes 2 SPF records"),
        Row(name: "syntax error anywhere: permerror", zone: "example.com TXT v=spf1 ip4:192.0.2.10 -all moo", result: .permerror,
            explanation: "the SPF record of example.com is invalid: unknown mechanism 'moo'"),
        Row(name: "case-insensitive names", zone: "example.com TXT V=SPF1 IP4:192.0.2.10 -ALL", sender: "User@EXAMPLE.COM.",
            result: .pass),
        Row(name: "IPv4-mapped client is IPv4", zone: "example.com TXT v=spf1 ip6:::/0 ip4:192.0.2.10 -all", ip: "::ffff:192.0.2.10",
            result: .pass),
        Row(name: "IPv4 client never matches ip6", zone: "example.com TXT v=spf1 ip6:::/0 -all", result: .fail),
        Row(name: "ip6 match", zone: "example.com TXT v=spf1 ip6:2001:db8::/32 -all", ip: "2001:DB8::25", result: .pass),
        Row(name: "a with dual cidr, IPv4", zone: """
            example.com TXT v=spf1 a:mail.example.com/24//64 -all
            mail.example.com A 192.0.2.99
            mail.example.com AAAA 2001:db8:0:1::99
            """, result: .pass),
        Row(name: "a with dual cidr, IPv6", zone: """
            example.com TXT v=spf1 a:mail.example.com/24//64 -all
            mail.example.com A 192.0.2.99
            mail.example.com AAAA 2001:db8:0:1::99
            """, ip: "2001:db8:0:1::7", result: .pass),
        Row(name: "a defaults to <domain> and /32", zone: """
            example.com TXT v=spf1 a -all
            example.com A 192.0.2.11
            """, result: .fail),
        Row(name: "mx", zone: """
            example.com TXT v=spf1 mx -all
            example.com MX mx1.example.com
            example.com MX mx2.example.com
            mx1.example.com A 198.51.100.1
            mx2.example.com A 192.0.2.10
            """, result: .pass),
        Row(name: "mx does not fall back to A", zone: """
            example.com TXT v=spf1 mx -all
            example.com A 192.0.2.10
            """, result: .fail),
        Row(name: "mx with 11 names: permerror", zone: "example.com TXT v=spf1 mx -all\n"
            + (1...11).map { "example.com MX mx\($0).example.com" }.joined(separator: "\n"), result: .permerror,
            explanation: "MX of example.com has 11 names, more than 10"),
        Row(name: "ptr validated", zone: """
            example.com TXT v=spf1 ptr -all
            10.2.0.192.in-addr.arpa PTR host.example.com
            host.example.com A 192.0.2.10
            """, result: .pass),
        Row(name: "ptr not validated", zone: """
            example.com TXT v=spf1 ptr -all
            10.2.0.192.in-addr.arpa PTR host.example.com
            host.example.com A 192.0.2.11
            """, result: .fail),
        Row(name: "ptr looks at 10 names only", zone: "example.com TXT v=spf1 ptr -all\n"
            + (1...10).map { "10.2.0.192.in-addr.arpa PTR h\($0).example.net" }.joined(separator: "\n")
            + "\n10.2.0.192.in-addr.arpa PTR host.example.com\nhost.example.com A 192.0.2.10", result: .fail),
        Row(name: "ptr lookup timeout is no match", zone: """
            example.com TXT v=spf1 ptr ?all
            10.2.0.192.in-addr.arpa PTR !timeout
            """, result: .neutral),
        Row(name: "exists", zone: """
            example.com TXT v=spf1 exists:%{ir}.%{l}._spf.%{d} -all
            10.2.0.192.user._spf.example.com A 127.0.0.2
            """, result: .pass),
        Row(name: "exists timeout: temperror", zone: """
            example.com TXT v=spf1 exists:x.example.net -all
            x.example.net A !timeout
            """, result: .temperror, explanation: "DNS error looking up A x.example.net: timeout"),
        Row(name: "a timeout: temperror", zone: """
            example.com TXT v=spf1 a:x.example.net -all
            x.example.net A !timeout
            """, result: .temperror),
        Row(name: "include pass matches", zone: """
            example.com TXT v=spf1 -include:other.example ?all
            other.example TXT v=spf1 +all
            """, result: .fail),
        Row(name: "include fail does not match", zone: """
            example.com TXT v=spf1 include:other.example ?all
            other.example TXT v=spf1 -all
            """, result: .neutral),
        Row(name: "include softfail does not match", zone: """
            example.com TXT v=spf1 include:other.example ?all
            other.example TXT v=spf1 ~all
            """, result: .neutral),
        Row(name: "include neutral does not match", zone: """
            example.com TXT v=spf1 include:other.example -all
            other.example TXT v=spf1 ?all
            """, result: .fail),
        Row(name: "include temperror", zone: """
            example.com TXT v=spf1 include:other.example -all
            other.example TXT !timeout
            """, result: .temperror),
        Row(name: "include permerror", zone: """
            example.com TXT v=spf1 include:other.example -all
            other.example TXT v=spf1 bogus
            """, result: .permerror),
        Row(name: "include none: permerror", zone: "example.com TXT v=spf1 include:other.example -all", result: .permerror,
            explanation: "include:other.example has no SPF record"),
        Row(name: "redirect after mechanisms", zone: """
            example.com TXT v=spf1 redirect=other.example ip4:192.0.2.10
            other.example TXT v=spf1 -all
            """, result: .pass),
        Row(name: "redirect result", zone: """
            example.com TXT v=spf1 redirect=other.example
            other.example TXT v=spf1 ~all
            """, result: .softfail),
        Row(name: "redirect to none: permerror", zone: "example.com TXT v=spf1 redirect=other.example", result: .permerror),
        Row(name: "redirect changes <domain>", zone: """
            example.com TXT v=spf1 redirect=other.example
            other.example TXT v=spf1 a -all
            other.example A 192.0.2.10
            example.com A 198.51.100.1
            """, result: .pass),
        Row(name: "exp text, macro-expanded", zone: """
            example.com TXT v=spf1 -all exp=why.%{d}
            why.example.com TXT %{i} may not send for %{o} (%{l}); see https://%{d}/spf?%{S}
            """, result: .fail, explanation: "192.0.2.10 may not send for example.com (user); see https://example.com/spf?user%40example.com"),
        Row(name: "exp with two TXT: default", zone: """
            example.com TXT v=spf1 -all exp=why.example.com
            why.example.com TXT one
            why.example.com TXT two
            """, result: .fail, explanation: "example.com does not designate 192.0.2.10 as a permitted sender (SPF fail)"),
        Row(name: "exp timeout: default", zone: """
            example.com TXT v=spf1 -all exp=why.example.com
            why.example.com TXT !timeout
            """, result: .fail, explanation: "example.com does not designate 192.0.2.10 as a permitted sender (SPF fail)"),
        Row(name: "exp only for fail", zone: """
            example.com TXT v=spf1 ~all exp=why.example.com
            why.example.com TXT nope
            """, result: .softfail),
        Row(name: "include ignores included exp", zone: """
            example.com TXT v=spf1 -include:other.example -all
            other.example TXT v=spf1 +all exp=why.other.example
            why.other.example TXT not this
            """, result: .fail, explanation: "example.com does not designate 192.0.2.10 as a permitted sender (SPF fail)"),
        Row(name: "redirect uses the target's exp", zone: """
            example.com TXT v=spf1 redirect=other.example exp=why.example.com
            other.example TXT v=spf1 -all exp=why.other.example
            why.example.com TXT not this
            why.other.example TXT from %{d}
            """, result: .fail, explanation: "from other.example"),
        Row(name: "unknown modifiers are ignored", zone: "example.com TXT v=spf1 default=deny foo=%{d} +all", result: .pass),
        Row(name: "10 DNS terms are fine", zone: "example.com TXT v=spf1 " + Array(repeating: "a", count: 10).joined(separator: " ")
            + " ip4:192.0.2.10 -all\nexample.com A 198.51.100.1", result: .pass),
        Row(name: "the 11th DNS term: permerror", zone: "example.com TXT v=spf1 " + Array(repeating: "mx", count: 11).joined(separator: " ")
            + " ip4:192.0.2.10 -all\nexample.com MX mx.example.com\nmx.example.com A 198.51.100.1", result: .permerror,
            explanation: "more than 10 DNS-querying terms"),
        Row(name: "two void lookups are fine", zone: "example.com TXT v=spf1 a:n1.example.com mx:n2.example.com ?all\nn2.example.com NAME",
            result: .neutral),
        Row(name: "the third void lookup: permerror", zone: "example.com TXT v=spf1 a:n1.example.com exists:n2.example.com ptr:x.example ?all",
            result: .permerror, explanation: "more than 2 void DNS lookups"),
        Row(name: "include loop stops at once", zone: """
            example.com TXT v=spf1 include:other.example -all
            other.example TXT v=spf1 include:example.com
            """, result: .permerror, explanation: "include or redirect loop at example.com"),
        Row(name: "redirect to itself", zone: "example.com TXT v=spf1 redirect=%{d}", result: .permerror),
        Row(name: "same include twice is not a loop", zone: """
            example.com TXT v=spf1 include:other.example include:other.example ip4:192.0.2.10 -all
            other.example TXT v=spf1 -all
            """, result: .pass),
        Row(name: "invalid target name matches nothing", zone: "example.com TXT v=spf1 a:%{l}.x..example.net -all", result: .fail),
        Row(name: "macro names are truncated to 253 octets", zone: """
            example.com TXT v=spf1 exists:%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.x.example -all
            com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.example.com.x.example A 127.0.0.2
            """, result: .pass),
        Row(name: "record over the length limit: permerror", zone: "example.com TXT v=spf1 " + String(repeating: "ip4:192.0.2.1 ", count: 300) + "-all",
            result: .permerror),
        Row(name: "empty local-part is postmaster", zone: """
            example.com TXT v=spf1 exists:%{l}.%{d} -all
            postmaster.example.com A 127.0.0.2
            """, sender: "@example.com", result: .pass),
        Row(name: "null sender checks postmaster@helo", zone: """
            mail.example.org TXT v=spf1 exists:%{l}.%{o} -all
            postmaster.mail.example.org A 127.0.0.2
            """, sender: "", result: .pass),
        Row(name: "<> is the null sender", zone: "mail.example.org TXT v=spf1 -all", sender: "<>", result: .fail,
            explanation: "mail.example.org does not designate 192.0.2.10 as a permitted sender (SPF fail)"),
        Row(name: "single-label domain: none", zone: "localhost TXT v=spf1 -all", sender: "a@localhost", result: .none),
        Row(name: "address literal: none", zone: "", sender: "a@[192.0.2.10]", result: .none),
        Row(name: "%{p} prefers a name below <domain>", zone: """
            example.com TXT v=spf1 exists:%{p}.ok.example.net -all
            10.2.0.192.in-addr.arpa PTR host.example.net
            10.2.0.192.in-addr.arpa PTR host.example.com
            host.example.net A 192.0.2.10
            host.example.com A 192.0.2.10
            host.example.com.ok.example.net A 127.0.0.2
            """, result: .pass),
        Row(name: "bad client address: none", zone: "example.com TXT v=spf1 -all", ip: "not-an-ip", result: .none,
            explanation: "the client address 'not-an-ip' is not an IP address"),
    ]

    @Test(arguments: rows)
    func checkHost(_ row: Row) async {
        let verifier = SPFVerifier(resolver: SPFFakeResolver(row.zone))
        let outcome = await verifier.checkMailFrom(ip: row.ip, sender: row.sender, helo: row.helo)
        #expect(outcome.result == row.result, "\(outcome)")
        if let explanation = row.explanation {
            #expect(outcome.explanation == explanation)
        }
        if row.result != .fail, row.result != .permerror, row.result != .temperror, row.explanation == nil {
            #expect(outcome.explanation == nil)
        }
    }

    @Test func outcomeNamesTheDomainChecked() async {
        let verifier = SPFVerifier(resolver: SPFFakeResolver("mail.example.org TXT v=spf1 ip4:192.0.2.10 -all"))
        #expect(await verifier.checkHelo(ip: "192.0.2.10", helo: "Mail.Example.ORG.")
            == SPFOutcome(result: .pass, domain: "mail.example.org"))
        #expect(await verifier.checkMailFrom(ip: "192.0.2.10", sender: "x@Mail.Example.Org", helo: "other.example")
            == SPFOutcome(result: .pass, domain: "mail.example.org"))
        #expect(await verifier.checkHelo(ip: "192.0.2.10", helo: "[192.0.2.10]")
            == SPFOutcome(result: .none, domain: "[192.0.2.10]"))
    }

    @Test func limitsAreConfigurable() async {
        var limits = SPFLimits()
        limits.dnsMechanisms = 2
        limits.voidLookups = 0
        let zone = "example.com TXT v=spf1 a a a ip4:192.0.2.10\nexample.com A 198.51.100.1"
        #expect(await SPFVerifier(resolver: SPFFakeResolver(zone), limits: limits)
            .checkMailFrom(ip: "192.0.2.10", sender: "a@example.com", helo: "h.example").result == .permerror)
        #expect(await SPFVerifier(resolver: SPFFakeResolver(zone))
            .checkMailFrom(ip: "192.0.2.10", sender: "a@example.com", helo: "h.example").result == .pass)
        let void = "example.com TXT v=spf1 a:none.example ?all"
        #expect(await SPFVerifier(resolver: SPFFakeResolver(void), limits: limits)
            .checkMailFrom(ip: "192.0.2.10", sender: "a@example.com", helo: "h.example").result == .permerror)
    }

    /// However a record is built, one check makes a bounded number of queries: here ten
    /// includes each naming ten MX hosts, the worst §4.6.4 allows.
    @Test func queriesAreBounded() async {
        var zone = "example.com TXT v=spf1 " + (1...12).map { "include:i\($0).example" }.joined(separator: " ") + " -all\n"
        for index in 1...12 {
            zone += "i\(index).example TXT v=spf1 mx:m\(index).example -all\n"
            zone += (1...10).map { "m\(index).example MX h\($0).m\(index).example" }.joined(separator: "\n") + "\n"
        }
        let resolver = SPFFakeResolver(zone)
        let outcome = await SPFVerifier(resolver: resolver).checkMailFrom(ip: "192.0.2.10", sender: "a@example.com", helo: "h.example")
        #expect(outcome.result == .permerror)
        // 1 TXT, then 5 × (include TXT + MX + 10 A), then the sixth include is the 11th term.
        #expect(resolver.log.queries.count == 1 + 5 * 12)
    }

    @Test func explanationIsLookedUpOnlyForFail() async {
        let resolver = SPFFakeResolver("example.com TXT v=spf1 ?all exp=why.example.com\nwhy.example.com TXT x")
        _ = await SPFVerifier(resolver: resolver).checkMailFrom(ip: "192.0.2.10", sender: "a@example.com", helo: "h.example")
        #expect(resolver.log.queries == ["TXT example.com"])
    }
}
