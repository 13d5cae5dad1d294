import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The signing keys in `DATA_DIR/dkim/DOMAIN/SELECTOR.pem` (mode 0600, the directories 0700).
/// `swallow dkim generate` writes them; the server signs with the newest key of each algorithm
/// of a domain, and sees a new key at once (a domain's directory is read again when it changes).
/// Rotation: generate a new selector, publish its record, and the next message uses it.
public final class DKIMKeyring: Sendable {
    public let directory: String
    private let cache = Mutex<[String: (modified: timespec, keys: [DKIMKey])]>([:])

    public init(directory: String) {
        self.directory = directory
    }

    func domainDirectory(_ domain: String) -> String { directory + "/" + domain.lowercased() }

    /// Every key of `domain`, newest first.
    public func keys(for domain: String) -> [DKIMKey] {
        let domain = domain.lowercased()
        guard DKIMKeyring.isSafeName(domain) else { return [] }
        let path = domainDirectory(domain)
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        if let cached = cache.withLock({ $0[domain] }), cached.modified.tv_sec == st.st_mtim.tv_sec,
           cached.modified.tv_nsec == st.st_mtim.tv_nsec {
            return cached.keys
        }
        let keys = load(domain)
        cache.withLock { $0[domain] = (st.st_mtim, keys) }
        return keys
    }

    /// The keys to sign with: the newest of each algorithm (RFC 8463 §4: Ed25519 beside RSA,
    /// for receivers that do not know Ed25519 yet).
    public func signingKeys(for domain: String) -> [DKIMKey] {
        let all = keys(for: domain)
        return DKIMKey.Algorithm.allCases.compactMap { algorithm in all.first { $0.algorithm == algorithm } }
    }

    /// Every key of every domain, for `swallow dkim list`.
    public func allKeys() -> [DKIMKey] {
        let domains = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return domains.sorted().flatMap { keys(for: $0) }
    }

    private func load(_ domain: String) -> [DKIMKey] {
        let path = domainDirectory(domain)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var keys: [DKIMKey] = []
        for name in names where name.hasSuffix(".pem") {
            let selector = String(name.dropLast(4))
            let file = path + "/" + name
            guard DKIMKeyring.isSafeName(selector),
                  let pem = try? String(contentsOfFile: file, encoding: .utf8),
                  let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let key = try? DKIMKey(domain: domain, selector: selector, pem: pem,
                                         created: attributes[.modificationDate] as? Date ?? .distantPast) else { continue }
            keys.append(key)
        }
        return keys.sorted { ($0.created, $0.selector) > ($1.created, $1.selector) }
    }

    /// Writes a new key; refuses a selector that exists. Returns the key. `owner`: when run as
    /// root for a server that drops privileges, the service user, who must read the key.
    public func generate(domain: String, selector: String, algorithm: DKIMKey.Algorithm,
                         owner: (uid: uid_t, gid: gid_t)? = nil) throws -> DKIMKey {
        let domain = domain.lowercased()
        guard Self.isSafeName(selector) else { throw DKIMError.badSelector(selector) }
        guard Self.isSafeName(domain) else { throw DKIMError.badKey("'\(domain)' is not a domain name") }
        for dir in [directory, domainDirectory(domain)] {
            if mkdir(dir, 0o700) != 0 && errno != EEXIST {
                throw DKIMError.badKey("cannot create \(dir): \(String(cString: strerror(errno)))")
            }
        }
        let key = try DKIMKey.generate(domain: domain, selector: selector, algorithm: algorithm)
        let file = domainDirectory(domain) + "/" + selector + ".pem"
        // O_EXCL: an existing selector is never overwritten (its record may be published).
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw DKIMError.badKey("selector '\(selector)' of \(domain) exists; choose another (--selector)") }
            throw DKIMError.badKey("cannot create \(file): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(key.pem.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(file)
            throw DKIMError.badKey("cannot write \(file)")
        }
        if let owner {
            for path in [directory, domainDirectory(domain), file] { _ = lchown(path, owner.uid, owner.gid) }
        }
        return key
    }

    /// RFC 6376 §3.1 selectors and domain names: dot-separated labels of letters, digits, '-'.
    /// Also what keeps a name from leaving the key directory.
    static func isSafeName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
        }
    }
}
