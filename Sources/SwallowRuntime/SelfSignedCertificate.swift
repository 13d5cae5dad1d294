import Crypto
import Foundation
import SwiftASN1
import X509

/// A self-signed certificate for the server's host name, so TLS works from the first start
/// (the admin replaces it with a real one by pointing `[tls]` at it).
public enum SelfSignedCertificate {
    /// How long the generated certificate is valid.
    public static let validity: TimeInterval = 825 * 24 * 3600

    /// Writes `certificatePath` (PEM, 0644) and `privateKeyPath` (PEM, 0600).
    public static func generate(hostname: String, certificatePath: String, privateKeyPath: String, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName(hostname)
            OrganizationName("Swallow self-signed")
        }
        var sans: [GeneralName] = [.dnsName(hostname)]
        if hostname == "localhost" {
            sans += [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .ipAddress(ASN1OctetString(contentBytes: ArraySlice(
                [UInt8](repeating: 0, count: 15) + [1])))]
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true, keyEncipherment: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sans)
            },
            issuerPrivateKey: .init(key))
        let certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        try FileIO.writeAtomically(Array(key.pemRepresentation.utf8) + [0x0A], to: privateKeyPath, mode: 0o600)
        try FileIO.writeAtomically(Array(certificatePEM.utf8), to: certificatePath, mode: 0o644)
    }
}
