import Testing
import MailCore

@Suite struct EncodedWordTests {
    static let cases: [(String, String)] = [
        // RFC 2047 §8 examples.
        ("=?ISO-8859-1?Q?a?=", "a"),
        ("=?ISO-8859-1?Q?a?= b", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a_b?=", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a =?ISO-8859-2?Q?_b?="),
        ("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"),
        ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld Jørn Simonsen"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
        ("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
         "If you can read this yo =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
        // UTF-8, B and Q, case-insensitive charset and encoding.
        ("=?utf-8?b?R3LDvMOfZQ==?=", "Grüße"),
        ("=?UTF-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("=?utf-8?Q?=e2=82=ac?=", "€"),
        ("Re: =?UTF-8?B?8J+YgA==?= ok", "Re: 😀 ok"),
        // A multi-byte character split across two adjacent words.
        ("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9t=C3=A9?=", "été"),
        // Windows-1252 and ISO-8859-15 euro signs.
        ("=?windows-1252?Q?=80?=", "€"),
        ("=?iso-8859-15?Q?=A4?=", "€"),
        ("=?iso-8859-1?Q?=A4?=", "¤"),
        // RFC 2231 §5 language suffix.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        // Not touched: unknown charset, bad encoding, malformed, plain text.
        ("=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?="),
        ("=?utf-8?X?abc?=", "=?utf-8?X?abc?="),
        ("=?utf-8?Q?abc", "=?utf-8?Q?abc"),
        ("=?utf-8?Q?a b?=", "=?utf-8?Q?a b?="),
        ("=?utf-8?B?Q?=", "=?utf-8?B?Q?="),
        ("=??Q?abc?=", "=??Q?abc?="),
        ("a =? b ?= c", "a =? b ?= c"),
        ("plain subject", "plain subject"),
        ("", ""),
        // Whitespace between an encoded word and plain text is kept.
        ("x =?utf-8?q?y?= z", "x y z"),
        ("=?utf-8?q?y?=z", "yz"),
        // Stray "=" in Q is kept.
        ("=?utf-8?q?a=zz?=", "a=zz"),
        // Empty encoded text.
        ("=?utf-8?q??=x", "x"),
    ]

    @Test(arguments: cases)
    func decodes(_ input: String, _ expected: String) {
        #expect(EncodedWord.decode(input) == expected)
    }

    @Test func encodeRoundTrips() {
        for s in ["Grüße aus Köln", "😀 emoji", String(repeating: "é", count: 100), "plain", "a =?x?= b"] {
            let e = EncodedWord.encode(s)
            #expect(EncodedWord.decode(e) == s)
            #expect(e.utf8.allSatisfy { $0 < 0x80 })
            for word in e.split(separator: " ") where word.hasPrefix("=?") { #expect(word.utf8.count <= 75) }
        }
        #expect(EncodedWord.encode("plain") == "plain")
        #expect(EncodedWord.encode("é", fold: true) == "=?UTF-8?B?w6k=?=")
    }

    @Test func charsets() {
        #expect(MailCharset.isSupported("UTF-8"))
        #expect(MailCharset.isSupported(" Latin1 "))
        #expect(!MailCharset.isSupported("koi8-r"))
        #expect(MailCharset.decode([0x80, 0x41], charset: "cp1252") == "€A")
        #expect(MailCharset.decode([0xC3, 0xA9], charset: "us-ascii") == "é")
        #expect(MailCharset.decode([0xE9], charset: "us-ascii") == "é")
        #expect(MailCharset.decode([0xFF], charset: "utf-8") == "\u{FFFD}")
        #expect(MailCharset.decode([0x41], charset: "klingon") == nil)
    }

    // MARK: - RFC 2231 parameters

    static let parameterCases: [(String, [String: String])] = [
        ("; name=value", ["name": "value"]),
        ("; NAME=\"quoted value\"", ["name": "quoted value"]),
        ("; a=1; b=\"2;3\"", ["a": "1", "b": "2;3"]),
        ("; a=\"x\\\"y\"", ["a": "x\"y"]),
        // RFC 2231 §3 continuations.
        ("; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
         ["url": "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"]),
        // RFC 2231 §4 charset and language.
        ("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", ["title": "This is ***fun***"]),
        // RFC 2231 §4.1 mixed.
        ("; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
         ["title": "This is even more ***fun*** isn't it!"]),
        ("; filename*=UTF-8''%E2%82%AC%20rates.pdf", ["filename": "€ rates.pdf"]),
        ("; filename*=iso-8859-1''caf%E9.txt", ["filename": "café.txt"]),
        // Sections out of order are joined in numeric order; a gap stops the value.
        ("; n*1=b; n*0=a; n*3=d", ["n": "ab"]),
        // The extended form wins over the plain one.
        ("; filename=\"fallback.txt\"; filename*=UTF-8''real.txt", ["filename": "real.txt"]),
        // Non-standard but common: RFC 2047 inside a quoted parameter.
        ("; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"", ["filename": "été.pdf"]),
        // Tolerated junk.
        ("; name=my file.txt", ["name": "my file.txt"]),
        ("; charset=us-ascii (Plain text)", ["charset": "us-ascii"]),
        ("; a=1 b=2", ["a": "1", "b": "2"]),
        (";;; =x; novalue; c=3", ["c": "3"]),
        ("; a=\"unterminated", ["a": "unterminated"]),
        ("; n*=bad''%ZZ", ["n": "%ZZ"]),
    ]

    @Test(arguments: parameterCases)
    func parameters(_ input: String, _ expected: [String: String]) {
        let params = MIMEParameters.parse(input)
        #expect(Dictionary(params.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }) == expected)
    }

    @Test func parameterCharsetAndLanguageKept() {
        let p = MIMEParameters.parse("; title*=us-ascii'en-us'Hi")
        #expect(p == [MIMEParameter(name: "title", value: "Hi", charset: "us-ascii", language: "en-us")])
        let raw = MIMEParameters.parseRaw("; title*0*=us-ascii'en'a; title*1=b")
        #expect(raw.map(\.name) == ["title*0*", "title*1"])
        #expect(raw.map(\.value) == ["us-ascii'en'a", "b"])
    }

    @Test func fuzzNeverCrashes() {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0003)
        let alphabet = Array("=?_ QBqb8utf-UTF-8iso-8859-1abc=C3=A9 \r\n;*'%\"()".utf8)
        let seeds = (Self.cases.map(\.0) + Self.parameterCases.map(\.0)).map { Array($0.utf8) }
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 120, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            let s = String(decoding: bytes, as: UTF8.self)
            let d = EncodedWord.decode(s)
            // Decoding never invents text out of nothing.
            if !s.contains("=?") { #expect(d == s) }
            let params = MIMEParameters.parse(s)
            #expect(params.count <= MIMEParameters.maxParameters)
            #expect(EncodedWord.decode(EncodedWord.encode(s)) == s)
        }
    }
}
