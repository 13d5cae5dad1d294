import Crypto
import _CryptoExtras

/// What the server stores for SCRAM-SHA-256 (RFC 5802 §3, RFC 7677): the salt, the iteration
/// count and the two keys derived from the password. The password itself cannot be recovered
/// from these, and unlike a crypt(3) hash they let the server authenticate a client without the
/// client ever sending the password.
///
/// Note that `storedKey` and `serverKey` are password-equivalent for *this* server's SCRAM
/// (anyone holding `serverKey` can impersonate the server; RFC 5802 §9): store them like
/// password hashes.
public struct SCRAMCredentials: Sendable, Hashable, Codable {
    /// RFC 7677 §4 asks for at least 4096 (Dovecot's and PostgreSQL's figure). The stored
    /// keys allow offline guessing, so we make each guess 16 times dearer: 65,536 is the most
    /// that Cyrus SASL clients (mbsync, mutt, many MUAs) accept — its MAX_ITERATION_COUNTER;
    /// mbsync refused 100,000 here ("iteration-count is too big"). `auth.scram_iterations`
    /// sets it for new passwords.
    public static let defaultIterations = 65_536
    /// RFC 7677 §4: the least a client should accept from a server (and what Dovecot stores).
    public static let rfcMinimumIterations = 4096
    /// Below this nobody should store credentials; `init?(storageString:)` refuses it.
    public static let minimumIterations = 1
    /// An upper bound so that damaged data (or a hostile server talking to a client)
    /// cannot make us run PBKDF2 for minutes.
    public static let maximumIterations = 10_000_000
    /// Bytes of fresh salt `derive` generates (RFC 5802 §9 recommends a per-user random salt;
    /// 16 bytes is what Dovecot generates).
    public static let defaultSaltBytes = 16
    /// Longest salt accepted from storage or from a server.
    public static let maximumSaltBytes = 256
    /// SHA-256 output length: the size of StoredKey, ServerKey, proofs and signatures.
    public static let keyBytes = 32
    /// The Dovecot scheme label of the storage string.
    public static let storagePrefix = "{SCRAM-SHA-256}"

    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the credentials to store for `password` (RFC 5802 §3):
    ///
    ///     SaltedPassword := Hi(Normalize(password), salt, i)      ; PBKDF2-HMAC-SHA-256
    ///     ClientKey      := HMAC(SaltedPassword, "Client Key")
    ///     StoredKey      := H(ClientKey)
    ///     ServerKey      := HMAC(SaltedPassword, "Server Key")
    ///
    /// - Parameters:
    ///   - salt: `nil` for 16 fresh random bytes.
    ///   - iterations: must lie in `minimumIterations...maximumIterations` (a programming error
    ///     otherwise).
    public static func derive(password: String, salt: [UInt8]? = nil, iterations: Int = defaultIterations) -> SCRAMCredentials {
        precondition(
            (minimumIterations...maximumIterations).contains(iterations),
            "SCRAM iteration count \(iterations) out of range")
        let salt = salt ?? randomBytes(defaultSaltBytes)
        precondition(!salt.isEmpty, "SCRAM salt must not be empty")
        let salted = saltedPassword(password, salt: salt, iterations: iterations)
        let clientKey = hmac(key: salted, "Client Key".utf8)
        return SCRAMCredentials(
            salt: salt,
            iterations: iterations,
            storedKey: Array(SHA256.hash(data: clientKey)),
            serverKey: hmac(key: salted, "Server Key".utf8))
    }

    /// Dovecot's storage form, `{SCRAM-SHA-256}iterations,base64(salt),base64(StoredKey),
    /// base64(ServerKey)`, so a Dovecot user table can be imported and exported unchanged.
    public var storageString: String {
        Self.storagePrefix + "\(iterations),\(base64Encode(salt)),\(base64Encode(storedKey)),\(base64Encode(serverKey))"
    }

    /// Parses `storageString`. The scheme label is matched case-insensitively (as Dovecot does);
    /// `nil` for anything malformed: a bad count, bad base64, or keys that are not 32 bytes.
    public init?(storageString: String) {
        guard storageString.utf8.count > Self.storagePrefix.utf8.count,
            storageString.prefix(Self.storagePrefix.count).uppercased() == Self.storagePrefix
        else { return nil }
        let fields = storageString.dropFirst(Self.storagePrefix.count).split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 4,
            // Plain decimal digits only (no sign, no spaces); more than 9 is out of range anyway.
            fields[0].utf8.count <= 9, fields[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let iterations = Int(fields[0]),
            (Self.minimumIterations...Self.maximumIterations).contains(iterations),
            let salt = base64Decode(fields[1].utf8), !salt.isEmpty, salt.count <= Self.maximumSaltBytes,
            let storedKey = base64Decode(fields[2].utf8), storedKey.count == Self.keyBytes,
            let serverKey = base64Decode(fields[3].utf8), serverKey.count == Self.keyBytes
        else { return nil }
        self.init(salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    /// Hi(Normalize(password), salt, i) of RFC 5802 §2.2.
    ///
    /// A password SASLprep rejects is used as its raw UTF-8 bytes (as PostgreSQL does) rather
    /// than making derivation fail: client and server in this module make the same choice, so
    /// such passwords still work between them, and `SASLprep.prepare` lets a password-setting
    /// tool refuse them up front.
    package static func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let normalized = SASLprep.prepare(password) ?? password
        do {
            // RFC 7677 mandates 4096 iterations as the interoperable default, below the checked
            // API's 210,000 minimum, hence the unchecked variant; the range is checked by callers.
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(normalized.utf8), salt: salt, using: .sha256,
                outputByteCount: keyBytes, unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            // BoringSSL's PBKDF2 fails only on allocation failure or nonsensical parameters,
            // which the range checks exclude.
            fatalError("PBKDF2-HMAC-SHA-256 failed: \(error)")
        }
    }
}

/// HMAC-SHA-256 as a byte array.
package func hmac<K: Collection<UInt8>, M: Sequence<UInt8>>(key: K, _ message: M) -> [UInt8] {
    var mac = HMAC<SHA256>(key: SymmetricKey(data: Array(key)))
    mac.update(data: Array(message))
    return Array(mac.finalize())
}

/// Cryptographically secure random bytes (SystemRandomNumberGenerator reads getrandom(2) on
/// Linux and arc4random on Darwin).
package func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in generator.next() }
}
