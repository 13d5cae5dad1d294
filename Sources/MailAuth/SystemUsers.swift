import Foundation

/// An account of the operating system: a line of `/etc/passwd`, with its crypt(3) hash from
/// `/etc/shadow` (the classic `useradd user1; passwd user1`).
public struct SystemUser: Sendable, Hashable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32
    public let home: String
    /// The crypt(3) string, or nil when the account has none that can verify a password (locked
    /// `!…`, disabled `*`, empty, or the shadow file unreadable).
    public let hash: String?
}

/// Looks system accounts up in `passwd(5)` and `shadow(5)` files.
///
/// The files are read on each lookup (they are small, and the page cache holds them), so
/// `useradd`, `passwd` and `userdel` take effect at once, as for SQL accounts. The files are
/// parsed here rather than through getpwnam(3): the `_r` variants need buffer retry loops, the
/// plain ones are not thread-safe, and the classic setup this serves is exactly these files.
public struct SystemUserTable: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var passwdPath = "/etc/passwd"
        public var shadowPath = "/etc/shadow"
        /// Accounts below this uid (root, daemons) never receive mail or log in here;
        /// `nobody` (65534) neither. Debian's first user account is 1000.
        public var minimumUID: UInt32 = 1000
        public init() {}
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// The account named `name` (case-sensitive, as login(1) is), or nil.
    public func user(named name: String) -> SystemUser? {
        guard Self.isPlausibleName(name), let passwd = Self.read(configuration.passwdPath),
              let entry = Self.passwdEntry(named: name, in: passwd),
              entry.uid >= configuration.minimumUID, entry.uid != 65534 else { return nil }
        var hash: String?
        if entry.password.hasPrefix("$") {
            hash = entry.password    // an old-style hash kept in passwd itself
        } else if entry.password == "x", let shadow = Self.read(configuration.shadowPath) {
            hash = Self.shadowHash(named: name, in: shadow)
        }
        return SystemUser(name: name, uid: entry.uid, gid: entry.gid, home: entry.home, hash: hash)
    }

    /// POSIX portable user names (plus what Debian's adduser allows): no ":" or line ends can
    /// reach the file matching below.
    static func isPlausibleName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 32, name.first != "-" else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }

    static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    struct PasswdEntry: Equatable {
        var password: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    /// `name:password:UID:GID:GECOS:directory:shell` (passwd(5)).
    static func passwdEntry(named name: String, in text: String) -> PasswdEntry? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 7, fields[0] == name else { continue }
            guard let uid = UInt32(fields[2]), let gid = UInt32(fields[3]), fields[5].hasPrefix("/") else { return nil }
            return PasswdEntry(password: String(fields[1]), uid: uid, gid: gid, home: String(fields[5]))
        }
        return nil
    }

    /// `name:hash:lastchange:min:max:warn:inactive:expire:` (shadow(5)). A hash that starts
    /// with "!" (locked) or "*" (no password), or is empty, verifies nothing.
    static func shadowHash(named name: String, in text: String) -> String? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 2, fields[0] == name else { continue }
            let hash = fields[1]
            guard hash.hasPrefix("$") else { return nil }
            // An expired account (shadow(5) field 8, days since the epoch) may not log in.
            if fields.count >= 8, let expire = Int(fields[7]), expire >= 0,
               Int(Date().timeIntervalSince1970 / 86400) >= expire { return nil }
            return String(hash)
        }
        return nil
    }
}
