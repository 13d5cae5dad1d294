import Foundation
@testable import MailAuthentication
import MailCore
import Testing

@Suite("DKIM")
struct DKIMTests {
    /// RFC 6376 §3.4.5's example, relaxed header and relaxed body.
    @Test func relaxedCanonicalizationOfTheRFCExample() {
        #expect(DKIMCanonicalization.relaxedHeader(Array("A: X\r\n".utf8)) == Array("a:X\r\n".utf8))
        #expect(DKIMCanonicalization.relaxedHeader(Array("B : Y\t\r\n\tZ  \r\n".utf8)) == Array("b:Y Z\r\n".utf8))
        let body = Array(" C \r\nD \t E\r\n\r\n\r\n".utf8)
        #expect(DKIMCanonicalization.relaxedBody(body[...]) == Array(" C\r\nD E\r\n".utf8))
    }

    @Test func relaxedBodyEdges() {
        #expect(DKIMCanonicalization.relaxedBody([][...]).isEmpty)
        #expect(DKIMCanonicalization.relaxedBody(Array("\r\n\r\n".utf8)[...]).isEmpty)
        #expect(DKIMCanonicalization.relaxedBody(Array("no newline  ".utf8)[...]) == Array("no newline\r\n".utf8))
        #expect(DKIMCanonicalization.relaxedBody(Array("a\r\n\r\nb\r\n".utf8)[...]) == Array("a\r\n\r\nb\r\n".utf8))
    }

    /// RFC 8463 Appendix A.2's Ed25519 key: our PKCS#8 form reads back and gives its published p=.
    @Test func ed25519KeyOfRFC8463() throws {
        let seed = try #require(Data(base64Encoded: "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="))
        let pem = "-----BEGIN PRIVATE KEY-----\n" + Data(DKIMKey.ed25519PKCS8Prefix + Array(seed)).base64EncodedString()
            + "\n-----END PRIVATE KEY-----\n"
        let key = try DKIMKey(domain: "football.example.com", selector: "brisbane", pem: pem, created: Date())
        #expect(key.algorithm == .ed25519)
        #expect(key.publicKeyBase64 == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        #expect(key.pem == pem)
    }

    @Test func rsaKeyRoundTripsAndItsRecordIsSplit() throws {
        let key = try DKIMKey.generate(domain: "example.test", selector: "s1", algorithm: .rsa)
        let again = try DKIMKey(domain: "example.test", selector: "s1", pem: key.pem, created: Date())
        #expect(again.publicKeyBase64 == key.publicKeyBase64 && again.algorithm == .rsa)
        // A 2048-bit key's record is longer than one 255-octet string (RFC 1035 §3.3.14).
        #expect(key.zoneLine.hasPrefix("s1._domainkey.example.test.\t3600\tIN\tTXT\t\"v=DKIM1; k=rsa; p="))
        #expect(key.zoneLine.components(separatedBy: "\" \"").count == 2)
    }

    /// h= oversigns From, Subject, Date, To, Cc, Reply-To, Message-ID; fields are taken bottom-up.
    @Test func signedFieldsAndSelection() {
        let header = MessageHeader.parse(Array("From: a@example.test\r\nTo: b@x.test\r\nReceived: x\r\nSubject: one\r\nSubject: two\r\n\r\n".utf8)).header
        let names = DKIMSigner.fieldsToSign(header)
        #expect(names.filter { $0 == "from" }.count == 2)
        #expect(names.filter { $0 == "subject" }.count == 3)
        #expect(names.filter { $0 == "cc" }.count == 1)
        #expect(!names.contains("received") && !names.contains("content-type"))
        #expect(DKIMSigner.canonicalFields(header, ["subject", "subject", "subject"]) == Array("subject:two\r\nsubject:one\r\n".utf8))
    }

    @Test func signatureFieldShape() throws {
        let keys = [try DKIMKey.generate(domain: "example.test", selector: "r", algorithm: .rsa),
                    try DKIMKey.generate(domain: "example.test", selector: "e", algorithm: .ed25519)]
        let message = Array("From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n".utf8)
        let fields = MessageHeader.parse(try DKIMSigner.sign(message, keys: keys, now: Date(timeIntervalSince1970: 1_700_000_000)) + Array("\r\n".utf8)).header.fields
        #expect(fields.count == 2 && fields.allSatisfy { $0.hasName("DKIM-Signature") })
        #expect(fields[0].value.contains("a=rsa-sha256; c=relaxed/relaxed; d=example.test;"))
        #expect(fields[1].value.contains("a=ed25519-sha256"))
        #expect(fields[0].value.contains("t=1700000000"))
        // The body hash of "body\r\n" (relaxed), the same for both.
        #expect(fields.allSatisfy { $0.value.contains("bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=") })
    }

    @Test func keyringRefusesUnsafeNamesAndExistingSelectors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-dkim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ring = DKIMKeyring(directory: dir)
        #expect(throws: DKIMError.self) { try ring.generate(domain: "example.test", selector: "../x", algorithm: .ed25519) }
        _ = try ring.generate(domain: "Example.test", selector: "s1", algorithm: .ed25519)
        #expect(throws: DKIMError.self) { try ring.generate(domain: "example.test", selector: "s1", algorithm: .ed25519) }
        #expect(ring.signingKeys(for: "EXAMPLE.TEST").map(\.selector) == ["s1"])
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/example.test/s1.pem")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
