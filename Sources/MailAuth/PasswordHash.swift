import CCrypt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The crypt(3) schemes Swallow writes, through libxcrypt.
///
/// DESIGN.md §4: passwords are stored as crypt(3) hashes, never in clear. Every scheme here is a
/// salted, deliberately slow hash that Dovecot, Postfix's SQL maps and `/etc/shadow` tooling
/// (`mkpasswd`, `openssl passwd`) already understand, so a user table can move between Swallow
/// and a classic Postfix + Dovecot installation in either direction.
public enum PasswordScheme: String, Sendable, CaseIterable {
    /// yescrypt (`$y$`): libxcrypt's default and Debian's since 11; memory-hard, so GPU and
    /// ASIC guessing costs far more than with the SHA-crypt family.
    case yescrypt
    /// bcrypt (`$2b$`): Dovecot's `BLF-CRYPT`. Only the first 72 bytes of a password count.
    case bcrypt
    /// SHA-512-crypt (`$6$`): Dovecot's `SHA512-CRYPT`, the most widely understood scheme.
    case sha512crypt
    /// SHA-256-crypt (`$5$`): Dovecot's `SHA256-CRYPT`.
    case sha256crypt

    /// The prefix `crypt_gensalt_rn` is asked for when making a new hash.
    var gensaltPrefix: String {
        switch self {
        case .yescrypt: return "$y$"
        case .bcrypt: return "$2b$"
        case .sha512crypt: return "$6$"
        case .sha256crypt: return "$5$"
        }
    }

    /// Recognises the scheme of a bare crypt(3) string by its `$id$` prefix.
    ///
    /// `$2y$` (PHP, Dovecot's `BLF-CRYPT` on some builds) and `$2a$` (older OpenBSD and Dovecot
    /// hashes) are the same algorithm as `$2b$` for every password a user can type, so they are
    /// accepted for verification; new hashes are always `$2b$`. DES, MD5-crypt (`$1$`) and
    /// other weak or exotic schemes are deliberately not recognised: an account stored that way
    /// must be given a new password.
    init?(cryptString: Substring) {
        if cryptString.hasPrefix("$y$") {
            self = .yescrypt
        } else if cryptString.hasPrefix("$2b$") || cryptString.hasPrefix("$2y$") || cryptString.hasPrefix("$2a$") {
            self = .bcrypt
        } else if cryptString.hasPrefix("$6$") {
            self = .sha512crypt
        } else if cryptString.hasPrefix("$5$") {
            self = .sha256crypt
        } else {
            return nil
        }
    }
}

/// Why `PasswordHash.make` could not produce a hash.
public enum PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    /// crypt(3) takes a C string: everything after a NUL would be silently ignored.
    case passwordContainsNUL
    /// Longer than the scheme can hash without silently ignoring the rest (see
    /// `PasswordHash.maxPasswordBytes` and `PasswordHash.bcryptMaxPasswordBytes`).
    case passwordTooLong(limit: Int)
    /// libxcrypt could not make a salt (e.g. no system randomness).
    case saltGenerationFailed(PasswordScheme)
    /// libxcrypt refused to hash (it returned NULL or a `*` failure token).
    case hashingFailed(PasswordScheme)

    public var description: String {
        switch self {
        case .passwordContainsNUL: return "password contains a NUL byte"
        case .passwordTooLong(let limit): return "password longer than \(limit) bytes"
        case .saltGenerationFailed(let scheme): return "could not generate a \(scheme.rawValue) salt"
        case .hashingFailed(let scheme): return "\(scheme.rawValue) hashing failed"
        }
    }
}

/// Password hashing and verification with crypt(3) (libxcrypt).
///
/// Stored strings are either bare crypt(3) strings (`$y$…`, `$2b$…`, `$6$…`, `$5$…`) or carry a
/// Dovecot scheme prefix (`{SHA512-CRYPT}$6$…`, `{SHA256-CRYPT}$5$…`, `{BLF-CRYPT}$2y$…`,
/// `{CRYPT}…`) so that a Dovecot `passwd-file` or SQL `password` column can be imported as is.
/// `{PLAIN}`, `{CLEARTEXT}` and every other scheme are refused: we never store or accept clear
/// (or cheaply reversible) passwords (DESIGN.md §4).
///
/// All functions are synchronous and CPU-heavy (yescrypt and bcrypt take tens of milliseconds
/// by design): callers on an event loop should run them on a thread pool.
public enum PasswordHash {
    /// libxcrypt refuses passphrases of `CRYPT_MAX_PASSPHRASE_SIZE` bytes or more (the size
    /// includes the terminating NUL).
    public static let maxPasswordBytes = Int(CRYPT_MAX_PASSPHRASE_SIZE) - 1

    /// bcrypt ignores every byte after the 72nd; `make` refuses longer passwords for bcrypt rather
    /// than store a hash that silently accepts any password sharing the first 72 bytes.
    public static let bcryptMaxPasswordBytes = 72

    /// Dovecot scheme names (case-insensitive, as in Dovecot) and the crypt(3) schemes each may
    /// wrap. A label that does not match its content (e.g. `{SHA512-CRYPT}$5$…`) is refused:
    /// it is damaged or forged data, not something any tool writes.
    private static let dovecotSchemes: [String: Set<PasswordScheme>] = [
        "SHA512-CRYPT": [.sha512crypt],
        "SHA256-CRYPT": [.sha256crypt],
        "BLF-CRYPT": [.bcrypt],
        "CRYPT": Set(PasswordScheme.allCases),
    ]

    /// Hashes `password` with a fresh salt from libxcrypt's own randomness.
    ///
    /// - Returns: the crypt(3) string, e.g. `$y$j9T$…`, ready to store.
    /// - Throws: `PasswordHashError` for passwords crypt(3) cannot hash faithfully, or when
    ///   libxcrypt fails.
    public static func make(_ password: String, scheme: PasswordScheme = .yescrypt) throws -> String {
        let length = password.utf8.count
        if password.utf8.contains(0) { throw PasswordHashError.passwordContainsNUL }
        if length > maxPasswordBytes { throw PasswordHashError.passwordTooLong(limit: maxPasswordBytes) }
        if scheme == .bcrypt && length > bcryptMaxPasswordBytes {
            throw PasswordHashError.passwordTooLong(limit: bcryptMaxPasswordBytes)
        }

        // A buffer smaller than CRYPT_GENSALT_OUTPUT_SIZE makes libxcrypt fail with "*0".
        // count 0 asks for the scheme's default cost; rbytes NULL asks libxcrypt to read the
        // system's randomness itself (getrandom), which is what we want for salts.
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let generated = setting.withUnsafeMutableBufferPointer { buffer in
            crypt_gensalt_rn(scheme.gensaltPrefix, 0, nil, 0, buffer.baseAddress, Int32(buffer.count))
        }
        guard generated != nil, setting[0] != 0, setting[0] != CChar(UInt8(ascii: "*")) else {
            throw PasswordHashError.saltGenerationFailed(scheme)
        }
        let settingString = String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)

        guard let hash = cryptR(password, setting: settingString),
            PasswordScheme(cryptString: hash[...]) == scheme
        else {
            throw PasswordHashError.hashingFailed(scheme)
        }
        return hash
    }

    /// Checks `password` against a stored hash (bare crypt(3) string or Dovecot-prefixed).
    ///
    /// Returns `false` for a wrong password and equally for anything that cannot be verified:
    /// an unsupported or clear-text scheme, a damaged hash, a password with a NUL byte or one
    /// longer than `maxPasswordBytes`. The final comparison takes constant time.
    public static func verify(_ password: String, against stored: String) -> Bool {
        if password.utf8.contains(0) || password.utf8.count > maxPasswordBytes { return false }
        guard let (cryptString, _) = parse(stored) else { return false }
        guard let computed = cryptR(password, setting: String(cryptString)) else { return false }
        return constantTimeEquals(Array(computed.utf8), Array(cryptString.utf8))
    }

    /// Whether `stored` is in a format `verify` can check (it does not hash anything).
    ///
    /// Useful to flag accounts that need a new password, e.g. after importing a Dovecot user
    /// table with `{PLAIN}` or `{MD5-CRYPT}` entries.
    public static func isSupported(_ stored: String) -> Bool {
        parse(stored) != nil
    }

    /// The scheme of a stored hash, or `nil` when it is not supported. Lets a caller re-hash with
    /// the preferred scheme after a successful login with an older one.
    public static func scheme(of stored: String) -> PasswordScheme? {
        parse(stored)?.scheme
    }

    /// Splits an optional Dovecot `{SCHEME}` prefix from the crypt(3) string and recognises the
    /// scheme. `nil` for anything unsupported.
    private static func parse(_ stored: String) -> (cryptString: Substring, scheme: PasswordScheme)? {
        // A NUL would cut the string short on its way into C.
        if stored.utf8.contains(0) { return nil }
        var cryptString = stored[...]
        var allowed = Set(PasswordScheme.allCases)
        if cryptString.hasPrefix("{") {
            guard let close = cryptString.firstIndex(of: "}") else { return nil }
            let label = cryptString[cryptString.index(after: cryptString.startIndex)..<close].uppercased()
            guard let schemes = dovecotSchemes[label] else { return nil }
            allowed = schemes
            cryptString = cryptString[cryptString.index(after: close)...]
        }
        guard let scheme = PasswordScheme(cryptString: cryptString), allowed.contains(scheme) else { return nil }
        return (cryptString, scheme)
    }

    /// crypt_r with a heap-allocated, zeroed `struct crypt_data`.
    ///
    /// The struct is about 32 KiB: too big for the small stacks of NIO and Swift concurrency
    /// threads, and crypt_r (unlike crypt) is thread-safe only because each caller brings its
    /// own. It holds a copy of the passphrase, so it is wiped before it is freed.
    private static func cryptR(_ password: String, setting: String) -> String? {
        let size = MemoryLayout<crypt_data>.size
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        let raw = UnsafeMutableRawPointer(data)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            #if canImport(Glibc)
            explicit_bzero(raw, size)
            #else
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            #endif
            data.deallocate()
        }
        guard let result = crypt_r(password, setting, data) else { return nil }
        let hash = String(cString: result)
        // libxcrypt reports failure with a string starting with "*" ("*0" or "*1"), never a
        // valid hash: treat it as "no match" rather than something to compare.
        if hash.isEmpty || hash.hasPrefix("*") { return nil }
        return hash
    }
}
