import Testing

@testable import MailAuth

@Suite("Password hashing (crypt(3) via libxcrypt)")
struct PasswordHashTests {
    /// Vectors made by other implementations: Drepper's SHA-crypt specification (also what
    /// `openssl passwd -5/-6 -salt saltstring` prints), Openwall's crypt_blowfish test vectors,
    /// and `openssl passwd` for the rest. The yescrypt one is from Python 3.11's `crypt` module
    /// (libxcrypt itself, so a regression vector rather than an independent one).
    static let knownVectors: [(password: String, hash: String)] = [
        ("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
        ("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
        ("Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
        ("Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
        ("correct horse battery staple", "$6$Xq9Ab.cd$QbTE/EsNMSHJrkcHitDbMuM4QZE.9aHN8Jmbn1.Btm.3yCVAvXFH31VEJsAndNZT8YIG/Nmws223MU/ggi3ge1"),
        ("correct horse battery staple", "$5$Xq9Ab.cd$TKMQJN9Yxi7gBnuyK34IAhyK109USAiurcjNiYHN0c/"),
        ("pässwörd", "$6$u7Ts$39lenf812vRL0wXr/wW43IuGar5A45lcb6IaLQup8vhto5BM/xdbm/h5mgt7VnGy2z5G9bIScwbN6iC/CdkAM/"),
        ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ("U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ("pencil", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.ThbqWIWsyNQG40LT5B7LrnncmuqVy8C"),
        ("pencil", "$y$j9T$abcdefghijklmnop$EUfgOvTaLrKx87aYb7xDnngz.JEcWbLILGShVqEeRZ1"),
    ]

    @Test("known vectors verify", arguments: knownVectors)
    func knownVector(password: String, hash: String) {
        #expect(PasswordHash.verify(password, against: hash))
        #expect(!PasswordHash.verify(password + "x", against: hash))
        #expect(!PasswordHash.verify("", against: hash))
        #expect(PasswordHash.isSupported(hash))
    }

    @Test("Dovecot scheme prefixes", arguments: [
        ("{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", true),
        ("{sha512-crypt}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", true),
        ("{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", true),
        ("{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", true),
        ("{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", true),
        ("{CRYPT}$y$j9T$abcdefghijklmnop$EUfgOvTaLrKx87aYb7xDnngz.JEcWbLILGShVqEeRZ1", "pencil", true),
        ("{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "wrong", false),
        // A label that does not match the hash inside is damaged data.
        ("{SHA512-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", false),
        ("{BLF-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", false),
    ])
    func dovecotPrefix(stored: String, password: String, expected: Bool) {
        #expect(PasswordHash.verify(password, against: stored) == expected)
    }

    /// Clear text, weak schemes and garbage are refused even when the "password" matches.
    @Test("unsupported and damaged hashes are refused", arguments: [
        ("{PLAIN}secret", "secret"),
        ("{plain}secret", "secret"),
        ("{CLEARTEXT}secret", "secret"),
        ("secret", "secret"),
        ("", ""),
        ("*", ""),
        ("!", ""),
        ("*0", ""),
        ("!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1", "Hello world!"),  // MD5-crypt
        ("{MD5-CRYPT}$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1", "Hello world!"),
        ("{CRYPT}saszt8mUri4AI", "Hello world!"),  // DES
        ("saszt8mUri4AI", "Hello world!"),
        ("{SSHA512}aGVsbG8=", "hello"),
        ("{SHA512-CRYPT", "x"),
        ("{}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("$6$", ""),
        ("$6$saltstring$", "Hello world!"),
        ("$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl", "Hello world!"),  // truncated
        ("$y$", "pencil"),
        ("$y$j9T$abcdefghijklmnop$", "pencil"),
        ("$2b$05$CCCCC", "U*U"),
        ("$6$saltstring\0$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
    ])
    func refused(stored: String, password: String) {
        #expect(!PasswordHash.verify(password, against: stored))
    }

    @Test("isSupported and scheme(of:)", arguments: [
        ("$y$j9T$abc$def", PasswordScheme.yescrypt as PasswordScheme?),
        ("$2b$05$x", .bcrypt), ("$2y$05$x", .bcrypt), ("$2a$05$x", .bcrypt),
        ("$6$x$y", .sha512crypt), ("$5$x$y", .sha256crypt),
        ("{SHA512-CRYPT}$6$x$y", .sha512crypt), ("{CRYPT}$2y$05$x", .bcrypt),
        ("{PLAIN}x", nil), ("{SCRAM-SHA-256}4096,a,b,c", nil), ("$1$x$y", nil), ("$7$x", nil),
        ("$gy$x", nil), ("", nil), ("{SHA256-CRYPT}$6$x$y", nil),
    ])
    func supported(stored: String, scheme: PasswordScheme?) {
        #expect(PasswordHash.scheme(of: stored) == scheme)
        #expect(PasswordHash.isSupported(stored) == (scheme != nil))
    }

    @Test("make/verify round trip", arguments: PasswordScheme.allCases)
    func roundTrip(scheme: PasswordScheme) throws {
        let prefixes: [PasswordScheme: String] = [.yescrypt: "$y$", .bcrypt: "$2b$", .sha512crypt: "$6$", .sha256crypt: "$5$"]
        for password in ["pencil", "pässwörd ✓", " leading and trailing ", String(repeating: "x", count: 72)] {
            let hash = try PasswordHash.make(password, scheme: scheme)
            #expect(hash.hasPrefix(prefixes[scheme]!))
            #expect(PasswordHash.scheme(of: hash) == scheme)
            #expect(PasswordHash.verify(password, against: hash))
            if !(scheme == .bcrypt && password.utf8.count >= PasswordHash.bcryptMaxPasswordBytes) {
                #expect(!PasswordHash.verify(password + "!", against: hash))
            }
            #expect(!PasswordHash.verify(String(password.dropLast()), against: hash))
            // A fresh salt every time.
            #expect(try PasswordHash.make(password, scheme: scheme) != hash)
        }
    }

    @Test func defaultSchemeIsYescrypt() throws {
        let hash = try PasswordHash.make("pencil")
        #expect(hash.hasPrefix("$y$"))
        #expect(PasswordHash.verify("pencil", against: hash))
        #expect(PasswordHash.verify("pencil", against: "{CRYPT}" + hash))
    }

    @Test("passwords with NUL are refused", arguments: PasswordScheme.allCases)
    func nulPassword(scheme: PasswordScheme) throws {
        #expect(throws: PasswordHashError.passwordContainsNUL) { try PasswordHash.make("pen\0cil", scheme: scheme) }
        let hash = try PasswordHash.make("pen", scheme: scheme)
        // crypt(3) would see only "pen": the NUL must not truncate the password into a match.
        #expect(!PasswordHash.verify("pen\0cil", against: hash))
    }

    @Test func overlongPasswords() throws {
        let long = String(repeating: "a", count: PasswordHash.maxPasswordBytes + 1)
        #expect(throws: PasswordHashError.passwordTooLong(limit: PasswordHash.maxPasswordBytes)) {
            try PasswordHash.make(long, scheme: .sha512crypt)
        }
        let longest = String(repeating: "a", count: PasswordHash.maxPasswordBytes)
        let hash = try PasswordHash.make(longest, scheme: .sha512crypt)
        #expect(PasswordHash.verify(longest, against: hash))
        #expect(!PasswordHash.verify(long, against: hash))
        // bcrypt would silently ignore everything after byte 72.
        #expect(throws: PasswordHashError.passwordTooLong(limit: 72)) {
            try PasswordHash.make(String(repeating: "b", count: 73), scheme: .bcrypt)
        }
    }

    /// bcrypt's 72-byte horizon is a property of stored hashes (ours and imported ones alike):
    /// verification keeps libxcrypt's behaviour, since refusing longer input would lock out
    /// users of imported hashes without stopping anyone who knows the first 72 bytes.
    @Test func bcryptIgnoresBytesPast72() throws {
        let password = String(repeating: "x", count: 72)
        let hash = try PasswordHash.make(password, scheme: .bcrypt)
        #expect(PasswordHash.verify(password + "anything", against: hash))
        #expect(!PasswordHash.verify(String(password.dropLast()) + "y", against: hash))
    }

    @Test func concurrentVerification() async throws {
        let hash = try PasswordHash.make("pencil", scheme: .sha256crypt)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<16 {
                group.addTask { PasswordHash.verify(index % 2 == 0 ? "pencil" : "eraser", against: hash) }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 8)
    }
}
