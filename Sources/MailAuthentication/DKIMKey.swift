import Crypto
import Foundation
import _CryptoExtras

/// A DKIM signing key: RSA (RFC 6376, 2048 bits as RFC 8301 recommends) or Ed25519 (RFC 8463).
public struct DKIMKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case rsa, ed25519

        /// The `a=` tag (RFC 6376 §3.5, RFC 8463 §3).
        var tag: String { self == .rsa ? "rsa-sha256" : "ed25519-sha256" }
    }

    enum Material: @unchecked Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    public let domain: String
    public let selector: String
    public let created: Date
    let material: Material

    public var algorithm: Algorithm {
        if case .rsa = material { .rsa } else { .ed25519 }
    }

    public static func generate(domain: String, selector: String, algorithm: Algorithm, created: Date = Date()) throws -> DKIMKey {
        switch algorithm {
        case .rsa: DKIMKey(domain: domain, selector: selector, created: created, material: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
        case .ed25519: DKIMKey(domain: domain, selector: selector, created: created, material: .ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// PKCS#8 PEM, as stored in `dkim/DOMAIN/SELECTOR.pem` (OpenSSL reads it too).
    public var pem: String {
        switch material {
        case .rsa(let key):
            return key.pkcs8PEMRepresentation
        case .ed25519(let key):
            // RFC 8410 §7: PrivateKeyInfo with id-Ed25519 and the 32-byte seed as an OCTET STRING.
            let der = Self.ed25519PKCS8Prefix + Array(key.rawRepresentation)
            let base64 = Data(der).base64EncodedString()
            return "-----BEGIN PRIVATE KEY-----\n\(base64)\n-----END PRIVATE KEY-----\n"
        }
    }

    static let ed25519PKCS8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]

    public init(domain: String, selector: String, pem: String, created: Date) throws {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body) else { throw DKIMError.badKey("not PEM") }
        if der.count == 48, Array(der.prefix(16)) == Self.ed25519PKCS8Prefix {
            material = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)))
        } else {
            let key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
            guard key.keySizeInBits >= 1024 else { throw DKIMError.badKey("RSA keys under 1024 bits are not used (RFC 8301 §3.2)") }
            material = .rsa(key)
        }
        self.domain = domain; self.selector = selector; self.created = created
    }

    init(domain: String, selector: String, created: Date, material: Material) {
        self.domain = domain; self.selector = selector; self.created = created; self.material = material
    }

    /// The `p=` value: the SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1), the raw 32-byte key
    /// for Ed25519 (RFC 8463 §4.2).
    public var publicKeyBase64: String {
        switch material {
        case .rsa(let key): key.publicKey.derRepresentation.base64EncodedString()
        case .ed25519(let key): key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The TXT record's value (RFC 6376 §3.6.1).
    public var recordValue: String {
        "v=DKIM1; k=\(algorithm.rawValue); p=\(publicKeyBase64)"
    }

    /// The record as a zone-file line; the value in quoted strings of at most 255 characters
    /// (RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets).
    public var zoneLine: String {
        "\(selector)._domainkey.\(domain).\t3600\tIN\tTXT\t" + Self.quotedStrings(recordValue)
    }

    public static func quotedStrings(_ value: String) -> String {
        var parts: [String] = []
        var rest = Substring(value)
        while !rest.isEmpty {
            parts.append("\"\(rest.prefix(255))\"")
            rest = rest.dropFirst(255)
        }
        return parts.joined(separator: " ")
    }

    /// RFC 6376 §3.3: RSASSA-PKCS1-v1_5 over SHA-256 of `data`; RFC 8463 §3: PureEdDSA over the
    /// SHA-256 hash of `data`.
    func sign(_ data: [UInt8]) throws -> [UInt8] {
        switch material {
        case .rsa(let key):
            return Array(try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key):
            return Array(try key.signature(for: Data(SHA256.hash(data: data))))
        }
    }
}

public enum DKIMError: Error, Sendable, CustomStringConvertible {
    case badKey(String)
    case badSelector(String)

    public var description: String {
        switch self {
        case .badKey(let why): "unusable DKIM key: \(why)"
        case .badSelector(let s): "'\(s)' is not a selector (letters, digits and '-', dot-separated, RFC 6376 §3.1)"
        }
    }
}
