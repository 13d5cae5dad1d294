import Crypto
import Foundation
import MailCore
import _CryptoExtras

/// One signature's verdict (RFC 6376 §6.1, results as RFC 8601 §2.7.1 names them).
public struct DKIMVerification: Sendable, Equatable {
    public enum Result: String, Sendable {
        case pass, fail, neutral, policy, temperror, permerror
    }
    public let result: Result
    /// The signing domain (`d=`), lowercased; "" when the signature did not parse that far.
    public let domain: String
    public let selector: String
    public let algorithm: String
    /// The first characters of `b=` (RFC 6008), to tell signatures of one domain apart.
    public let signaturePrefix: String
    public let reason: String?
}

/// Verifies every `DKIM-Signature:` of a message (at most `maxSignatures`, RFC 6376 §8.4:
/// verifying costs a DNS lookup and an RSA operation each). RSA-SHA256 with keys of at least
/// 1024 bits and Ed25519-SHA256 (RFC 8301, RFC 8463); RSA-SHA1 is refused (RFC 8301 §3.1).
/// Signatures with `l=` get "policy": content may have been appended after signing (§8.2).
public struct DKIMVerifier: Sendable {
    public static let maxSignatures = 5
    let resolver: any AuthenticationResolver

    public init(resolver: any AuthenticationResolver) {
        self.resolver = resolver
    }

    public func verify(_ message: [UInt8], now: Date = Date()) async -> [DKIMVerification] {
        let (header, bodyOffset) = MessageHeader.parse(message)
        let signatures = header.fields.filter { $0.hasName("DKIM-Signature") }.prefix(Self.maxSignatures)
        var results: [DKIMVerification] = []
        for field in signatures {
            results.append(await verify(field, header: header, body: message[bodyOffset...], now: now))
        }
        return results
    }

    func verify(_ field: HeaderField, header: MessageHeader, body: ArraySlice<UInt8>, now: Date) async -> DKIMVerification {
        let tags = DKIMTags.parse(field.value)
        let domain = tags["d"]?.lowercased() ?? "", selector = tags["s"] ?? "", algorithm = tags["a"]?.lowercased() ?? ""
        let prefix = String((tags["b"] ?? "").prefix(8))
        func verdict(_ result: DKIMVerification.Result, _ reason: String?) -> DKIMVerification {
            DKIMVerification(result: result, domain: domain, selector: selector, algorithm: algorithm, signaturePrefix: prefix, reason: reason)
        }
        // RFC 6376 §6.1.1: the tags a verifier requires.
        guard tags["v"] == "1" else { return verdict(.permerror, "v= is not 1") }
        for required in ["a", "b", "bh", "d", "h", "s"] where (tags[required] ?? "").isEmpty {
            return verdict(.permerror, "no \(required)= tag")
        }
        guard algorithm == "rsa-sha256" || algorithm == "ed25519-sha256" else {
            return verdict(.permerror, algorithm == "rsa-sha1" ? "rsa-sha1 is not accepted (RFC 8301)" : "unknown algorithm \(algorithm)")
        }
        let signedNames = (tags["h"] ?? "").split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard signedNames.contains("from") else { return verdict(.permerror, "From is not signed") }
        if let identity = tags["i"] {
            let identityDomain = identity.split(separator: "@").last.map { $0.lowercased() } ?? ""
            guard identityDomain == domain || identityDomain.hasSuffix("." + domain) else {
                return verdict(.permerror, "i= is not in d=")
            }
        }
        if let expires = tags["x"].flatMap(Double.init), expires < now.timeIntervalSince1970 {
            return verdict(.fail, "signature expired")
        }
        if tags["l"] != nil { return verdict(.policy, "l= (body length limit) is not accepted") }
        let (headerCanon, bodyCanon) = Self.canonicalization(tags["c"])
        guard let headerCanon, let bodyCanon else { return verdict(.permerror, "unknown canonicalization") }

        // RFC 6376 §3.7: the body hash first; a mismatch fails without a DNS lookup.
        let canonicalBody = bodyCanon == .relaxed ? DKIMCanonicalization.relaxedBody(body) : DKIMCanonicalization.simpleBody(body)
        guard let expectedBodyHash = Data(base64Encoded: DKIMTags.stripWhitespace(tags["bh"] ?? "")),
              expectedBodyHash == Data(SHA256.hash(data: canonicalBody)) else {
            return verdict(.fail, "body hash did not verify")
        }

        let key: DKIMPublicKey
        do {
            let records = try await resolver.txt("\(selector)._domainkey.\(domain)")
            guard let record = records.first else { return verdict(.permerror, "no key") }
            switch DKIMPublicKey.parse(record) {
            case .success(let parsed): key = parsed
            case .failure(let why): return verdict(.permerror, why.reason)
            }
        } catch .temporary(let why) {
            return verdict(.temperror, "key lookup failed: \(why)")
        } catch {
            return verdict(.permerror, "no key for \(selector)._domainkey.\(domain)")
        }
        guard key.algorithm == (algorithm == "rsa-sha256" ? "rsa" : "ed25519") else {
            return verdict(.permerror, "key type \(key.algorithm) does not match a=\(algorithm)")
        }

        var data: [UInt8] = []
        var used: [String: Int] = [:]
        for name in signedNames {
            let instances = header.fields.filter { $0.hasName(name) }
            let n = used[name, default: 0]
            used[name] = n + 1
            guard n < instances.count else { continue }
            let raw = instances[instances.count - 1 - n].raw
            data += headerCanon == .relaxed ? DKIMCanonicalization.relaxedHeader(raw) : DKIMCanonicalization.simpleHeader(raw)
        }
        let unsigned = DKIMTags.withoutSignatureValue(field.raw)
        let canonicalSignature = headerCanon == .relaxed
            ? Array(DKIMCanonicalization.relaxedHeader(unsigned).dropLast(2)) : unsigned
        data += canonicalSignature
        guard let signature = Data(base64Encoded: DKIMTags.stripWhitespace(tags["b"] ?? "")) else {
            return verdict(.permerror, "b= is not base64")
        }
        return key.verify(signature, over: data) ? verdict(.pass, nil) : verdict(.fail, "signature did not verify")
    }

    enum Canonicalization { case simple, relaxed }

    /// `c=` (RFC 6376 §3.5): header/body, each simple or relaxed; the body's defaults to simple.
    static func canonicalization(_ value: String?) -> (Canonicalization?, Canonicalization?) {
        let parts = (value ?? "simple/simple").lowercased().split(separator: "/").map(String.init)
        func one(_ s: String) -> Canonicalization? { s == "simple" ? .simple : s == "relaxed" ? .relaxed : nil }
        guard parts.count == 1 || parts.count == 2 else { return (nil, nil) }
        return (one(parts[0]), parts.count == 2 ? one(parts[1]) : .simple)
    }
}

/// A key record (RFC 6376 §3.6.1).
struct DKIMPublicKey {
    enum Material {
        case rsa(_RSA.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }
    let material: Material
    var algorithm: String { if case .rsa = material { "rsa" } else { "ed25519" } }

    struct Failure: Error { let reason: String }

    static func parse(_ record: String) -> Result<DKIMPublicKey, Failure> {
        let tags = DKIMTags.parse(record)
        if let v = tags["v"], v != "DKIM1" { return .failure(Failure(reason: "key record v= is not DKIM1")) }
        guard let p = tags["p"] else { return .failure(Failure(reason: "key record without p=")) }
        let base64 = DKIMTags.stripWhitespace(p)
        guard !base64.isEmpty else { return .failure(Failure(reason: "key revoked (empty p=)")) }
        guard let der = Data(base64Encoded: base64) else { return .failure(Failure(reason: "p= is not base64")) }
        switch (tags["k"] ?? "rsa").lowercased() {
        case "rsa":
            // SubjectPublicKeyInfo is what everyone publishes; RFC 6376 §3.6.1 also allows a
            // bare RSAPublicKey, which is wrapped into one.
            guard let key = (try? _RSA.Signing.PublicKey(unsafeDERRepresentation: der))
                    ?? (try? _RSA.Signing.PublicKey(unsafeDERRepresentation: DKIMTags.wrapRSAPublicKey(Array(der)))) else {
                return .failure(Failure(reason: "p= is not an RSA public key"))
            }
            // RFC 8301 §3.2: keys under 1024 bits are not trusted.
            guard key.keySizeInBits >= 1024 else { return .failure(Failure(reason: "RSA key of \(key.keySizeInBits) bits")) }
            return .success(DKIMPublicKey(material: .rsa(key)))
        case "ed25519":
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: der) else {
                return .failure(Failure(reason: "p= is not an Ed25519 key"))
            }
            return .success(DKIMPublicKey(material: .ed25519(key)))
        case let other:
            return .failure(Failure(reason: "unknown key type \(other)"))
        }
    }

    func verify(_ signature: Data, over data: [UInt8]) -> Bool {
        let digest = SHA256.hash(data: data)
        switch material {
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: Data(digest))
        }
    }
}

/// DKIM's tag=value lists (RFC 6376 §3.2).
enum DKIMTags {
    /// Tags by name; whitespace around names and values is removed (FWS inside values is kept,
    /// callers strip it where the grammar allows it: b=, bh=, p=). A repeated tag makes the
    /// list invalid (§3.2): the result is then empty.
    static func parse(_ text: String) -> [String: String] {
        var tags: [String: String] = [:]
        for part in text.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else {
                if part.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continue }
                return [:]
            }
            let name = part[..<equals].trimmingCharacters(in: .whitespacesAndNewlines)
            let value = part[part.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, tags[name] == nil else { return [:] }
            tags[name] = value
        }
        return tags
    }

    static func stripWhitespace(_ s: String) -> String {
        String(s.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) }.map(Character.init))
    }

    /// The signature field as it was signed: its `b=` value (and the whitespace around it)
    /// removed, without its final CRLF (RFC 6376 §3.7).
    static func withoutSignatureValue(_ raw: [UInt8]) -> [UInt8] {
        var field = raw
        while let last = field.last, last == 0x0A || last == 0x0D { field.removeLast() }
        guard var i = field.firstIndex(of: 0x3A) else { return field }
        i += 1
        // Walk the tags: each starts after ';' (or the colon); find the one named exactly "b".
        while i < field.count {
            var nameStart = i
            while nameStart < field.count, DKIMCanonicalization.isWSP(field[nameStart]) || field[nameStart] == 0x0D || field[nameStart] == 0x0A {
                nameStart += 1
            }
            guard let equals = field[nameStart...].firstIndex(of: 0x3D) else { break }
            let end = field[equals...].firstIndex(of: 0x3B) ?? field.count
            let name = field[nameStart..<equals].filter { !DKIMCanonicalization.isWSP($0) && $0 != 0x0D && $0 != 0x0A }
            if name == [0x62] {  // "b"
                field.removeSubrange((equals + 1)..<end)
                return field
            }
            i = end + 1
        }
        return field
    }

    /// A SubjectPublicKeyInfo around a bare PKCS#1 RSAPublicKey (RFC 3279 §2.3.1).
    static func wrapRSAPublicKey(_ pkcs1: [UInt8]) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] {
            if n < 0x80 { return [UInt8(n)] }
            var bytes: [UInt8] = []
            var v = n
            while v > 0 { bytes.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
            return [0x80 | UInt8(bytes.count)] + bytes
        }
        let algorithm: [UInt8] = [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00]
        let bitString: [UInt8] = [0x03] + length(pkcs1.count + 1) + [0x00] + pkcs1
        let body = algorithm + bitString
        return [0x30] + length(body.count) + body
    }
}
