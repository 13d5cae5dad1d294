import Testing
import MailCore

@Suite struct ModifiedUTF7Tests {
    static let pairs: [(String, String)] = [
        ("INBOX", "INBOX"),
        ("", ""),
        ("&", "&-"),
        ("a&b", "a&-b"),
        ("&&", "&-&-"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Gesendete Objekte", "Gesendete Objekte"),
        // RFC 3501 §5.1.3 example.
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("日本語", "&ZeVnLIqe-"),
        ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
        ("é", "&AOk-"),
        ("éé", "&AOkA6Q-"),
        ("ééé", "&AOkA6QDp-"),
        ("a\u{7F}b", "a&AH8-b"),
        ("tab\there", "tab&AAk-here"),
        // Non-BMP: surrogate pairs.
        ("😀", "&2D3eAA-"),
        ("x😀y𝄞", "x&2D3eAA-y&2DTdHg-"),
        ("😀😀", "&2D3eANg93gA-"),
        ("~/.&-", "~/.&--"),
    ]

    @Test(arguments: pairs)
    func encodeAndDecode(_ plain: String, _ encoded: String) throws {
        #expect(ModifiedUTF7.encode(plain) == encoded)
        #expect(try ModifiedUTF7.decode(encoded) == plain)
    }

    static let malformed: [(String, ModifiedUTF7Error)] = [
        ("&", .unterminatedShift),
        ("abc&AOk", .unterminatedShift),
        ("&AOk", .unterminatedShift),
        ("&A!k-", .invalidBase64),
        ("&AOk/-", .invalidBase64),  // "/" is "," in modified base64
        ("&AOk=-", .invalidBase64),
        ("&A-", .invalidBase64),  // 6 bits: no whole byte
        ("&AO-", .invalidBase64),  // one byte: no whole UTF-16 unit
        ("&AGE-", .nonCanonical),  // "a" must be written directly
        ("&ACY-", .nonCanonical),  // "&" must be written "&-"
        ("&AOl-", .nonCanonical),  // non-zero padding bits
        ("&AOk-&AOk-", .nonCanonical),  // two shifts back to back
        ("&2D0-", .invalidUTF16),  // lone high surrogate
        ("&3gA-", .invalidUTF16),  // lone low surrogate
        ("é", .invalidCharacter(0xC3)),
        ("a\tb", .invalidCharacter(0x09)),
        ("&AOk\u{1}-", .invalidCharacter(0x01)),
    ]

    @Test(arguments: malformed)
    func rejectsMalformed(_ input: String, _ error: ModifiedUTF7Error) {
        #expect(throws: error) { try ModifiedUTF7.decode(input) }
    }

    @Test func separatedShiftsAreFine() throws {
        #expect(try ModifiedUTF7.decode("&AOk-a&AOk-") == "éaé")
    }

    @Test func fuzzRoundTripAndNeverCrash() throws {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0006)
        let pool: [Unicode.Scalar] = ["a", "Z", "&", "-", "/", ",", "+", " ", "~", "é", "台", "😀", "𝄞", "\u{7F}", "\u{1}", "\u{FFFD}"]
        for _ in 0..<3000 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
            let plain = String(s)
            let encoded = ModifiedUTF7.encode(plain)
            #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
            #expect(try ModifiedUTF7.decode(encoded) == plain)
        }
        let alphabet = Array("&-AOk+,/aZ09".utf8)
        for _ in 0..<3000 {
            let s = String(decoding: rng.bytes(maxLength: 24, alphabet: alphabet), as: UTF8.self)
            if let decoded = try? ModifiedUTF7.decode(s) {
                // Only canonical encodings are accepted, so decoding is injective.
                #expect(ModifiedUTF7.encode(decoded) == s)
            }
        }
    }
}
