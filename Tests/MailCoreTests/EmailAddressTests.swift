import Testing
import MailCore

@Suite struct EmailAddressTests {
    struct Valid: Sendable, CustomStringConvertible {
        var input: String
        var local: String
        var domain: String
        var rendered: String
        var description: String { input }
    }

    static let valid: [Valid] = [
        .init(input: "user@example.com", local: "user", domain: "example.com", rendered: "user@example.com"),
        .init(input: "User.Name+tag@Example.COM", local: "User.Name+tag", domain: "example.com", rendered: "User.Name+tag@example.com"),
        .init(input: "a@b", local: "a", domain: "b", rendered: "a@b"),
        .init(input: "!#$%&'*+-/=?^_`{|}~@x.y", local: "!#$%&'*+-/=?^_`{|}~", domain: "x.y", rendered: "!#$%&'*+-/=?^_`{|}~@x.y"),
        .init(input: "\"john doe\"@example.com", local: "john doe", domain: "example.com", rendered: "\"john doe\"@example.com"),
        .init(input: "\"plain\"@example.com", local: "plain", domain: "example.com", rendered: "plain@example.com"),
        .init(input: "\"a\\\"b\\\\c\"@x.org", local: "a\"b\\c", domain: "x.org", rendered: "\"a\\\"b\\\\c\"@x.org"),
        .init(input: "\"\"@x.org", local: "", domain: "x.org", rendered: "\"\"@x.org"),
        .init(input: "\"a..b\"@x.org", local: "a..b", domain: "x.org", rendered: "\"a..b\"@x.org"),
        .init(input: "u@[192.0.2.1]", local: "u", domain: "[192.0.2.1]", rendered: "u@[192.0.2.1]"),
        .init(input: "u@[IPv6:2001:DB8::1]", local: "u", domain: "[IPv6:2001:db8::1]", rendered: "u@[IPv6:2001:db8::1]"),
        .init(input: "u@[ipv6:::1]", local: "u", domain: "[IPv6:::1]", rendered: "u@[IPv6:::1]"),
        .init(input: "u@[IPv6:1:2:3:4:5:6:7:8]", local: "u", domain: "[IPv6:1:2:3:4:5:6:7:8]", rendered: "u@[IPv6:1:2:3:4:5:6:7:8]"),
        .init(input: "u@[IPv6:::ffff:192.0.2.1]", local: "u", domain: "[IPv6:::ffff:192.0.2.1]", rendered: "u@[IPv6:::ffff:192.0.2.1]"),
        .init(input: "u@[x-tag:foo]", local: "u", domain: "[x-tag:foo]", rendered: "u@[x-tag:foo]"),
        .init(input: "u@a-b.c-d.example", local: "u", domain: "a-b.c-d.example", rendered: "u@a-b.c-d.example"),
        .init(input: "jörg@bücher.example", local: "jörg", domain: "bücher.example", rendered: "jörg@bücher.example"),
        .init(input: "用户@例子.广告", local: "用户", domain: "例子.广告", rendered: "用户@例子.广告"),
        .init(input: "Δ@ÄBC.example", local: "Δ", domain: "Äbc.example", rendered: "Δ@Äbc.example"),
    ]

    @Test(arguments: valid)
    func parsesValid(_ c: Valid) throws {
        let a = try EmailAddress.parse(c.input)
        #expect(a.localPart == c.local)
        #expect(a.domain == c.domain)
        #expect(a.description == c.rendered)
        // The rendering is itself a valid address denoting the same mailbox.
        #expect(try EmailAddress.parse(a.description) == a)
        #expect(EmailAddress(c.input) == a)
    }

    static let invalid: [(String, AddressError)] = [
        ("", .empty),
        ("user", .missingAt),
        ("user.example.com", .missingAt),
        ("@example.com", .emptyLocalPart),
        ("user@", .emptyDomain),
        (".user@x.org", .invalidLocalPart),
        ("user.@x.org", .invalidLocalPart),
        ("us..er@x.org", .invalidLocalPart),
        ("us er@x.org", .invalidLocalPart),
        ("us(er@x.org", .invalidLocalPart),
        ("\"unterminated@x.org", .unterminatedQuotedString),
        ("\"a\u{01}b\"@x.org", .invalidLocalPart),
        ("user@-x.org", .invalidDomain),
        ("user@x-.org", .invalidDomain),
        ("user@x..org", .invalidDomain),
        ("user@x.org.", .invalidDomain),
        ("user@.x.org", .invalidDomain),
        ("user@x_y.org", .unexpectedCharacters),
        ("user@x.org extra", .unexpectedCharacters),
        ("user@x@y", .unexpectedCharacters),
        ("user@[300.1.1.1]", .invalidAddressLiteral),
        ("user@[1.2.3]", .invalidAddressLiteral),
        ("user@[IPv6:1::2::3]", .invalidAddressLiteral),
        ("user@[IPv6:1:2:3:4:5:6:7]", .invalidAddressLiteral),
        ("user@[IPv6:1:2:3:4:5:6:7::]", .invalidAddressLiteral),
        ("user@[IPv6:12345::]", .invalidAddressLiteral),
        ("user@[IPv6:1.2.3.4::]", .invalidAddressLiteral),
        ("user@[1.2.3.4", .invalidAddressLiteral),
        ("user@[tag-:x]", .invalidAddressLiteral),
        ("user@[a b]", .invalidAddressLiteral),
        (String(repeating: "a", count: 65) + "@x.org", .localPartTooLong),
        ("a@" + String(repeating: "a", count: 64) + ".org", .invalidDomain),
        ("a@" + Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), .domainTooLong),
        (String(repeating: "a", count: 60) + "@" + Array(repeating: String(repeating: "b", count: 60), count: 4).joined(separator: "."), .pathTooLong),
    ]

    @Test(arguments: invalid)
    func rejectsInvalid(_ input: String, _ expected: AddressError) {
        #expect(throws: expected) { try EmailAddress.parse(input) }
        #expect(EmailAddress(input) == nil)
    }

    @Test func utf8RequiresSMTPUTF8() throws {
        #expect(throws: AddressError.utf8NotPermitted) { try EmailAddress.parse("jörg@x.org", allowUTF8: false) }
        #expect(throws: AddressError.utf8NotPermitted) { try EmailAddress.parse("j@bücher.de", allowUTF8: false) }
        #expect(throws: AddressError.utf8NotPermitted) { try EmailAddress.parse("\"jö\"@x.org", allowUTF8: false) }
        #expect(try EmailAddress.parse("jörg@x.org").requiresSMTPUTF8)
        #expect(try EmailAddress.parse("j@bücher.de").requiresSMTPUTF8)
        #expect(try !EmailAddress.parse("j@x.de", allowUTF8: false).requiresSMTPUTF8)
    }

    @Test func limitsAreExact() throws {
        let local64 = String(repeating: "l", count: 64)
        #expect(try EmailAddress.parse(local64 + "@x.org").localPart == local64)
        let label63 = String(repeating: "d", count: 63)
        #expect(try EmailAddress.parse("a@" + label63 + ".org").domain.hasPrefix(label63))
        // 254 octets is the longest mailbox that still fits in a 256-octet path.
        let domain = Array(repeating: String(repeating: "b", count: 61), count: 3).joined(separator: ".") + ".cc"  // 188
        let local = String(repeating: "a", count: 64)
        let mailbox = local + "@" + domain
        #expect(mailbox.utf8.count == 253)
        #expect(try EmailAddress.parse(mailbox).domain == domain)
        #expect(EmailAddress.maxLocalPartLength == 64)
        #expect(EmailAddress.maxDomainLength == 255)
        #expect(EmailAddress.maxPathLength == 256)
    }

    @Test func domainIsCaseInsensitiveLocalPartIsNot() throws {
        #expect(try EmailAddress.parse("User@EXAMPLE.com") == EmailAddress.parse("User@example.COM"))
        #expect(try EmailAddress.parse("User@example.com") != EmailAddress.parse("user@example.com"))
        #expect(EmailAddress(localPart: "X", domain: "EXAMPLE.Org").domain == "example.org")
        #expect(EmailAddress(localPart: "a b", domain: "x").description == "\"a b\"@x")
    }

    @Test func errorsDescribeThemselves() {
        let all: [AddressError] = [
            .empty, .missingAt, .emptyLocalPart, .invalidLocalPart, .unterminatedQuotedString, .emptyDomain,
            .invalidDomain, .invalidAddressLiteral, .localPartTooLong, .domainTooLong, .pathTooLong,
            .utf8NotPermitted, .missingAngleBrackets, .invalidSourceRoute, .nullPathNotPermitted, .unexpectedCharacters,
        ]
        #expect(Set(all.map(\.description)).count == all.count)
    }

    // MARK: - SMTP paths

    static let reversePaths: [(String, String?)] = [
        ("<>", nil),
        ("<user@example.com>", "user@example.com"),
        ("<@relay.example,@other.example:user@example.com>", "user@example.com"),
        ("<@relay.example:User@Example.COM>", "User@example.com"),
        ("<\"a>b\"@example.com>", "\"a>b\"@example.com"),
        ("<jörg@bücher.example>", "jörg@bücher.example"),
    ]

    @Test(arguments: reversePaths)
    func parsesReversePath(_ input: String, _ expected: String?) throws {
        let a = try SMTPPath.parseReversePath(input)
        #expect(a?.description == expected)
        #expect(try SMTPPath.parseReversePath(Substring(input))?.description == expected)
    }

    static let badPaths: [(String, AddressError)] = [
        ("", .empty),
        ("user@example.com", .missingAngleBrackets),
        ("<user@example.com", .missingAngleBrackets),
        ("user@example.com>", .missingAngleBrackets),
        ("<", .missingAngleBrackets),
        ("<user>", .missingAt),
        ("<@relay user@x.org>", .invalidSourceRoute),
        ("<@relay,user@x.org>", .invalidSourceRoute),
        ("<@:user@x.org>", .invalidSourceRoute),
        ("<user@x.org >", .unexpectedCharacters),
        ("< user@x.org>", .invalidLocalPart),
        ("<" + String(repeating: "a", count: 64) + "@" + Array(repeating: String(repeating: "b", count: 62), count: 3).joined(separator: ".") + ".ccc>", .pathTooLong),
    ]

    @Test(arguments: badPaths)
    func rejectsBadReversePath(_ input: String, _ expected: AddressError) {
        #expect(throws: expected) { try SMTPPath.parseReversePath(input) }
    }

    @Test func forwardPath() throws {
        #expect(try SMTPPath.parseForwardPath("<user@example.com>").description == "user@example.com")
        #expect(try SMTPPath.parseForwardPath("<@a.example:user@example.com>").domain == "example.com")
        let pm = try SMTPPath.parseForwardPath("<Postmaster>")
        #expect(pm.localPart == "postmaster")
        #expect(pm.domain == "")
        #expect(pm.description == "postmaster")
        #expect(try SMTPPath.parseForwardPath("<POSTMASTER>").localPart == "postmaster")
        #expect(try SMTPPath.parseForwardPath("<Postmaster@Example.org>") == EmailAddress(localPart: "Postmaster", domain: "example.org"))
        #expect(throws: AddressError.nullPathNotPermitted) { try SMTPPath.parseForwardPath("<>") }
        #expect(throws: AddressError.missingAt) { try SMTPPath.parseReversePath("<postmaster>") }
        #expect(throws: AddressError.utf8NotPermitted) { try SMTPPath.parseForwardPath("<ü@x.org>", allowUTF8: false) }
    }

    @Test func splitsPathFromParameters() {
        let cases: [(String, String, String)?] = [
            ("<a@b> SIZE=100", "<a@b>", " SIZE=100"),
            ("<> BODY=8BITMIME", "<>", " BODY=8BITMIME"),
            ("<\"a> b\"@x.org> SMTPUTF8", "<\"a> b\"@x.org>", " SMTPUTF8"),
            ("<\"a\\\"> b\"@x.org>", "<\"a\\\"> b\"@x.org>", ""),
        ]
        for case let (input, path, rest)? in cases {
            let split = SMTPPath.splitPath(Substring(input))
            #expect(split?.path == Substring(path))
            #expect(split?.rest == Substring(rest))
        }
        #expect(SMTPPath.splitPath("a@b") == nil)
        #expect(SMTPPath.splitPath("<a@b") == nil)
        #expect(SMTPPath.splitPath("<\"a>") == nil)
    }

    @Test func fuzzNeverCrashesAndRoundTrips() throws {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0001)
        let alphabet = Array("abcXYZ09.@\"\\<>[]:,-_ +!éü\u{7f}\t".utf8)
        let seeds = Self.valid.map { Array($0.input.utf8) } + Self.reversePaths.map { Array($0.0.utf8) }
        var accepted = 0
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 80, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            let s = String(decoding: bytes, as: UTF8.self)
            if let a = try? EmailAddress.parse(s) {
                accepted += 1
                #expect(a.localPart.utf8.count <= EmailAddress.maxLocalPartLength)
                #expect(a.domain.utf8.count <= EmailAddress.maxDomainLength)
                #expect(try EmailAddress.parse(a.description) == a, "\(s)")
            }
            _ = try? SMTPPath.parseReversePath(s)
            _ = try? SMTPPath.parseForwardPath(s)
            _ = SMTPPath.splitPath(Substring(s))
        }
        #expect(accepted > 50)
    }
}
