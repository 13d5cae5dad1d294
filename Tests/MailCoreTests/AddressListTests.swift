import Testing
import MailCore

@Suite struct AddressListTests {
    typealias M = MailboxAddress

    static func mb(_ name: String?, _ local: String, _ domain: String?, raw: String? = nil, route: String? = nil) -> AddressListEntry {
        .mailbox(M(displayName: name, rawDisplayName: raw, route: route, localPart: local, domain: domain))
    }

    static let cases: [(String, [AddressListEntry])] = [
        ("user@example.com", [mb(nil, "user", "example.com")]),
        ("<user@example.com>", [mb(nil, "user", "example.com")]),
        ("John Doe <john@example.com>", [mb("John Doe", "john", "example.com")]),
        ("\"Doe, John\" <john@example.com>", [mb("Doe, John", "john", "example.com")]),
        ("\"Joe Q. Public\" <john.q.public@example.com>", [mb("Joe Q. Public", "john.q.public", "example.com")]),
        ("Joe Q. Public <jqp@example.com>", [mb("Joe Q. Public", "jqp", "example.com")]),
        ("a@x.org, b@y.org,c@z.org", [mb(nil, "a", "x.org"), mb(nil, "b", "y.org"), mb(nil, "c", "z.org")]),
        ("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
         [mb("Mary Smith", "mary", "x.test"), mb(nil, "jdoe", "example.org"), mb("Who?", "one", "y.test")]),
        ("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
         [mb(nil, "boss", "nil.test"), mb("Giant; \"Big\" Box", "sysservices", "example.net")]),
        // Groups (RFC 5322 §A.1.3).
        ("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
         [.group(name: "A Group", members: [
            M(displayName: "Ed Jones", localPart: "c", domain: "a.test"),
            M(localPart: "joe", domain: "where.test"),
            M(displayName: "John", localPart: "jdoe", domain: "one.test")])]),
        ("Undisclosed recipients:;", [.group(name: "Undisclosed recipients", members: [])]),
        ("undisclosed-recipients:;", [.group(name: "undisclosed-recipients", members: [])]),
        ("a@b.c, Friends: x@y.z;, d@e.f",
         [mb(nil, "a", "b.c"), .group(name: "Friends", members: [M(localPart: "x", domain: "y.z")]), mb(nil, "d", "e.f")]),
        ("Friends: x@y.z", [.group(name: "Friends", members: [M(localPart: "x", domain: "y.z")])]),
        // Comments (nested) are ignored; CFWS around dots (RFC 5322 §A.5, §A.6.3).
        ("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", [mb("Pete", "pete", "silly.test")]),
        ("john (John (the) Doe) @ example . com", [mb(nil, "john", "example.com")]),
        ("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
         [.group(name: "Hidden recipients", members: [])]),
        ("Joe Q. Public <john.q.public@example.com> (The Boss)", [mb("Joe Q. Public", "john.q.public", "example.com")]),
        // RFC 822 §6.1's form: a comment after a bare addr-spec names the mailbox.
        ("user@domain.org (Real Name)", [mb("Real Name", "user", "domain.org")]),
        ("a@x.org (A  (nested) \\) one), b@y.org (=?utf-8?q?B=C3=A9?=)",
         [mb("A (nested) ) one", "a", "x.org"), mb("Bé", "b", "y.org", raw: "=?utf-8?q?B=C3=A9?=")]),
        // CFWS inside an angle-addr (RFC 5322 §3.4.1 obs-local-part / obs-domain).
        ("<user-from (comment)@ (comment) domain.org>", [mb(nil, "user-from", "domain.org")]),
        // Obsolete: source route, empty list elements (RFC 5322 §4.4).
        ("<@node.test,@other.test:mary@example.net>", [mb(nil, "mary", "example.net", route: "@node.test,@other.test")]),
        (",, a@b.c ,, d@e.f,", [mb(nil, "a", "b.c"), mb(nil, "d", "e.f")]),
        // Quoted local part and domain literal.
        ("\"john doe\"@example.com", [mb(nil, "john doe", "example.com")]),
        ("x@[192.0.2.1]", [mb(nil, "x", "[192.0.2.1]")]),
        // Encoded words in the display name; raw kept for ENVELOPE.
        ("=?UTF-8?Q?J=C3=B6rg?= <j@x.de>", [mb("Jörg", "j", "x.de", raw: "=?UTF-8?Q?J=C3=B6rg?=")]),
        ("\"=?UTF-8?B?SsO2cmc=?=\" <j@x.de>", [mb("Jörg", "j", "x.de", raw: "=?UTF-8?B?SsO2cmc=?=")]),
        ("=?utf-8?q?M=C3=BCller?= =?utf-8?q?_Hans?= <m@x.de>", [mb("Müller Hans", "m", "x.de", raw: "=?utf-8?q?M=C3=BCller?= =?utf-8?q?_Hans?=")]),
        ("Jörg Müller <jörg@bücher.de>", [mb("Jörg Müller", "jörg", "bücher.de")]),
        // Unquoted "@" in a display name; a phrase before a bare addr-spec.
        ("support@x.example <real@y.example>", [mb("support@x.example", "real", "y.example")]),
        ("\"Name\" user@example.com", [mb("Name", "user", "example.com")]),
        ("John Smith@example.com", [mb("John", "Smith", "example.com")]),
        ("\"a\" . \"b\"@x.org", [mb(nil, "a.b", "x.org")]),
        // Garbage: best effort.
        ("postmaster", [mb(nil, "postmaster", nil)]),
        ("<>", [mb(nil, "", nil)]),
        ("Name <unterminated@x.org", [mb("Name", "unterminated", "x.org")]),
        ("\"unterminated <a@b>", [mb(nil, "unterminated <a@b>", nil)]),
        ("a@", [mb(nil, "a", nil)]),
        ("@b", [mb(nil, "", "b")]),
        ("", []),
        ("  ,  ;  ", []),
        (">>> a@b.c", [mb(nil, "a", "b.c")]),
        ("John <j@x.org> trailing junk, k@y.org", [mb("John", "j", "x.org"), mb(nil, "k", "y.org")]),
    ]

    @Test(arguments: cases)
    func table(_ input: String, _ expected: [AddressListEntry]) {
        #expect(AddressListEntry.parseAddressList(input) == expected)
    }

    @Test func rawGroupName() {
        let list = AddressListEntry.parseAddressList("=?utf-8?q?Gr=C3=BCppe?=: a@b.c;", decodeEncodedWords: false)
        #expect(list == [.group(name: "=?utf-8?q?Gr=C3=BCppe?=", members: [M(localPart: "a", domain: "b.c")])])
        let decoded = AddressListEntry.parseAddressList("=?utf-8?q?Gr=C3=BCppe?=: a@b.c;")
        #expect(decoded == [.group(name: "Grüppe", members: [M(localPart: "a", domain: "b.c")])])
    }

    @Test func helpers() {
        let list = AddressListEntry.parseAddressList("a@b.c, G: d@e.f, \"x y\"@g.h;")
        #expect(list.allMailboxes.map(\.addrSpec) == ["a@b.c", "d@e.f", "\"x y\"@g.h"])
        #expect(list.allMailboxes.first?.emailAddress == EmailAddress(localPart: "a", domain: "b.c"))
        #expect(M(localPart: "p", domain: nil).emailAddress == nil)
        #expect(M(localPart: "p", domain: nil).addrSpec == "p")
    }

    @Test func boundedAddressCount() {
        let big = Array(repeating: "a@b.c", count: AddressListEntry.maxAddresses + 50).joined(separator: ",")
        #expect(AddressListEntry.parseAddressList(big).count == AddressListEntry.maxAddresses)
    }

    @Test func fuzzNeverCrashes() {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0004)
        let alphabet = Array("ab.@<>,;:\"\\()[] =?utf-8?q?x?=é".utf8)
        let seeds = Self.cases.map { Array($0.0.utf8) }
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 120, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            let s = String(decoding: bytes, as: UTF8.self)
            let list = AddressListEntry.parseAddressList(s)
            #expect(list.allMailboxes.count <= AddressListEntry.maxAddresses)
            #expect(list.count <= s.utf8.count)
            for m in list.allMailboxes {
                #expect(m.localPart.utf8.count <= s.utf8.count)
                #expect((m.domain?.utf8.count ?? 0) <= s.utf8.count)
            }
        }
    }
}

extension AddressListTests {
    /// Hostile shapes that would be quadratic with a naive look-ahead; each must finish quickly.
    @Test(.timeLimit(.minutes(1)))
    func adversarialInputsStayLinear() {
        let shapes = [
            String(repeating: "<@", count: 60_000),
            String(repeating: "<@a,", count: 40_000),
            String(repeating: "a:", count: 60_000),
            String(repeating: "\"", count: 100_001),
            String(repeating: "(", count: 100_000),
            String(repeating: "=?utf-8?q?a?= ", count: 10_000) + "<a@b>",
        ]
        for s in shapes {
            let list = AddressListEntry.parseAddressList(s)
            #expect(list.allMailboxes.count <= AddressListEntry.maxAddresses)
        }
    }
}
