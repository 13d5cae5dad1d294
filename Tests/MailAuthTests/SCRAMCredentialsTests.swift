import Foundation
import Testing

@testable import MailAuth

@Suite("SCRAM-SHA-256 credentials and SASLprep")
struct SCRAMCredentialsTests {
    /// Expected values computed independently with Python's hashlib.pbkdf2_hmac and hmac.
    static let vectors: [(password: String, salt: [UInt8], storage: String)] = [
        ("pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="),
         "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="),
        ("IX", Array("0123456789abcdef".utf8),
         "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,w8BKFJL+iPDCA6QJz7ppAW4jPKiyJ62aIffAhgWQ2KU=,2iwiFsNsJUOcxyRv8AAXWij6Fkx6Dme2WsTE+/SN7BQ="),
        // SASLprep maps U+00AD to nothing and NFKC maps U+2168 (ROMAN NUMERAL NINE) to "IX".
        ("I\u{00AD}X", Array("0123456789abcdef".utf8),
         "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,w8BKFJL+iPDCA6QJz7ppAW4jPKiyJ62aIffAhgWQ2KU=,2iwiFsNsJUOcxyRv8AAXWij6Fkx6Dme2WsTE+/SN7BQ="),
        ("\u{2168}", Array("0123456789abcdef".utf8),
         "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,w8BKFJL+iPDCA6QJz7ppAW4jPKiyJ62aIffAhgWQ2KU=,2iwiFsNsJUOcxyRv8AAXWij6Fkx6Dme2WsTE+/SN7BQ="),
        ("", Array("0123456789abcdef".utf8),
         "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,mmkwNZ9eys8fShBg9Gi0cHaAWDhEYEQs4PGPNGcYlXQ=,qj1hXa9eECTbbMf9gtR7DG8VdCLM+e8doWyKh7MSojY="),
    ]

    @Test("derive matches independent computation", arguments: vectors)
    func derive(password: String, salt: [UInt8], storage: String) {
        let credentials = SCRAMCredentials.derive(password: password, salt: salt, iterations: 4096)
        #expect(credentials.storageString == storage)
        #expect(SCRAMCredentials(storageString: storage) == credentials)
    }

    @Test func randomSalt() {
        let a = SCRAMCredentials.derive(password: "pencil")
        let b = SCRAMCredentials.derive(password: "pencil")
        #expect(a.salt.count == SCRAMCredentials.defaultSaltBytes)
        #expect(a.iterations == 65_536, "16 × RFC 7677's floor, the most Cyrus SASL clients accept")
        #expect(a.storedKey.count == 32 && a.serverKey.count == 32)
        #expect(a.salt != b.salt)
        #expect(a.storedKey != b.storedKey)
        #expect(SCRAMCredentials(storageString: a.storageString) == a)
    }

    @Test func codableRoundTrip() throws {
        let credentials = SCRAMCredentials.derive(password: "pencil", salt: [1, 2, 3, 4], iterations: 4096)
        let data = try JSONEncoder().encode(credentials)
        #expect(try JSONDecoder().decode(SCRAMCredentials.self, from: data) == credentials)
    }

    @Test func storagePrefixIsCaseInsensitive() {
        let storage = Self.vectors[0].storage
        let lower = "{scram-sha-256}" + storage.dropFirst(SCRAMCredentials.storagePrefix.count)
        #expect(SCRAMCredentials(storageString: lower) == SCRAMCredentials(storageString: storage))
    }

    static let key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    @Test("malformed storage strings", arguments: [
        "",
        "{SCRAM-SHA-256}",
        "{SCRAM-SHA-1}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key)",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key),",
        "{SCRAM-SHA-256}0,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}-1,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}+4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}99999999999999999999,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}10000001,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256} 4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key)",
        "{SCRAM-SHA-256}4096,,\(key),\(key)",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ,\(key),\(key)",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key.dropLast(4)),\(key)",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),!!\(key.dropFirst(2))",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\(key),\(key) ",
        "{SHA512-CRYPT}$6$saltstring$x",
    ])
    func malformedStorage(_ storage: String) {
        #expect(SCRAMCredentials(storageString: storage) == nil)
    }

    /// RFC 4013 §3 examples (the bidi example 7 is not checked, see SASLprep's documentation),
    /// plus the mapping and prohibition tables.
    /// A one-scalar string built at run time: the compiler rejects some of these as literals.
    static func scalar(_ value: UInt32) -> String { String(Character(Unicode.Scalar(value)!)) }

    static let saslPrepCases: [(String, String?)] = [
        ("I\u{00AD}X", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u{00AA}", "a"),
        ("\u{2168}", "IX"),
        ("\u{0007}", nil),
        ("a\u{00A0}b", "a b"),
        ("a\u{3000}b", "a b"),
        ("a\u{200B}b", "ab"),
        ("a\u{FEFF}b", "ab"),
        ("e\u{0301}", "\u{00E9}"),
        ("pass\tword", nil),
        ("pass\u{007F}", nil),
        ("pass\u{0085}", nil),
        (scalar(0xE000), nil),
        (scalar(0xF0000), nil),
        ("\u{FFFD}", nil),
        (scalar(0xFDD0), nil),
        (scalar(0x1FFFE), nil),
        ("\u{2FF0}", nil),
        ("\u{200E}", nil),
        ("\u{202E}", nil),
        (scalar(0xE0041), nil),
        ("\u{2028}", nil),
        (scalar(0x0378), nil),  // unassigned
        ("", ""),
        ("pässwörd ✓", "pässwörd ✓"),
    ]

    /// RFC 4013 §3 examples (the bidi example 7 is not checked, see SASLprep's documentation),
    /// plus the mapping and prohibition tables.
    @Test("SASLprep", arguments: saslPrepCases)
    func saslPrep(input: String, expected: String?) {
        #expect(SASLprep.prepare(input) == expected)
    }

    /// Passwords SASLprep refuses are hashed as their raw bytes rather than making derivation
    /// fail, the same way on client and server.
    @Test func prohibitedPasswordFallsBackToRawBytes() {
        let salt: [UInt8] = Array("0123456789abcdef".utf8)
        let a = SCRAMCredentials.derive(password: "pass\tword", salt: salt)
        let b = SCRAMCredentials.derive(password: "pass\tword", salt: salt)
        let c = SCRAMCredentials.derive(password: "pass word", salt: salt)
        #expect(a == b)
        #expect(a != c)
    }
}
