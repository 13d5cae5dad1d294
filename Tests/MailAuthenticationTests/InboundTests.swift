import Foundation
@testable import MailAuthentication
import Testing

/// A zone in memory: TXT, A/AAAA, MX, PTR; names not listed are NXDOMAIN; `failing` ones SERVFAIL.
struct FakeResolver: AuthenticationResolver {
    var txt: [String: [String]] = [:]
    var a: [String: [String]] = [:]
    var aaaa: [String: [String]] = [:]
    var mx: [String: [String]] = [:]
    var ptr: [String: [String]] = [:]
    var failing: Set<String> = []

    func lookup(_ table: [String: [String]], _ name: String) throws(AuthenticationDNSError) -> [String] {
        let key = name.lowercased()
        if failing.contains(key) { throw .temporary("SERVFAIL") }
        if let records = table[key] { return records }
        let exists = [txt, a, aaaa, mx].contains { $0[key] != nil }
        throw exists ? .noData : .nxdomain
    }
    func txt(_ name: String) async throws(AuthenticationDNSError) -> [String] { try lookup(txt, name) }
    func addresses(_ name: String, ipv6: Bool) async throws(AuthenticationDNSError) -> [String] { try lookup(ipv6 ? aaaa : a, name) }
    func mx(_ name: String) async throws(AuthenticationDNSError) -> [String] { try lookup(mx, name) }
    func ptr(_ address: String) async throws(AuthenticationDNSError) -> [String] { try lookup(ptr, address) }
}

@Suite("Inbound authentication")
struct InboundTests {
    let message = Array("From: Ann <ann@sender.test>\r\nTo: bob@example.test\r\nSubject: hello  there\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\nHi Bob,\r\n\r\nsee you.\r\n".utf8)

    func signed(_ algorithm: DKIMKey.Algorithm, domain: String = "sender.test") throws -> ([UInt8], FakeResolver) {
        let key = try DKIMKey.generate(domain: domain, selector: "sel", algorithm: algorithm)
        var resolver = FakeResolver()
        resolver.txt["sel._domainkey.\(domain)"] = [key.recordValue]
        return (try DKIMSigner.sign(message, keys: [key]) + message, resolver)
    }

    @Test(arguments: [DKIMKey.Algorithm.rsa, .ed25519])
    func ourSignaturesVerify(_ algorithm: DKIMKey.Algorithm) async throws {
        let (signed, resolver) = try signed(algorithm)
        let results = await DKIMVerifier(resolver: resolver).verify(signed)
        #expect(results.map(\.result) == [.pass], "\(results)")
        #expect(results.first?.domain == "sender.test" && results.first?.selector == "sel")
    }

    @Test func relaxedSurvivesRefoldingButNotABodyChange() async throws {
        let (signed, resolver) = try signed(.rsa)
        let text = String(decoding: signed, as: UTF8.self)
        let refolded = Array(text.replacingOccurrences(of: "Subject: hello  there", with: "subject:hello\r\n   there ").utf8)
        #expect(await DKIMVerifier(resolver: resolver).verify(refolded).map(\.result) == [.pass])
        let changed = Array(text.replacingOccurrences(of: "see you.", with: "see you!").utf8)
        let result = await DKIMVerifier(resolver: resolver).verify(changed)
        #expect(result.map(\.result) == [.fail] && result.first?.reason == "body hash did not verify")
        let added = Array(text.replacingOccurrences(of: "To: bob", with: "Cc: eve@evil.test\r\nTo: bob").utf8)
        #expect(await DKIMVerifier(resolver: resolver).verify(added).map(\.result) == [.fail])
    }

    @Test func keyProblems() async throws {
        var (signed, resolver) = try signed(.rsa)
        resolver.txt["sel._domainkey.sender.test"] = ["v=DKIM1; k=rsa; p="]
        #expect(await DKIMVerifier(resolver: resolver).verify(signed).first?.result == .permerror)
        resolver.txt = [:]
        #expect(await DKIMVerifier(resolver: resolver).verify(signed).first?.result == .permerror)
        resolver.failing = ["sel._domainkey.sender.test"]
        #expect(await DKIMVerifier(resolver: resolver).verify(signed).first?.result == .temperror)
    }

    @Test func signatureValueIsRemovedExactly() {
        let raw = Array("DKIM-Signature: v=1; bh=abc;\r\n\tb=XYZ\r\n\t 123; d=x\r\n".utf8)
        #expect(DKIMTags.withoutSignatureValue(raw) == Array("DKIM-Signature: v=1; bh=abc;\r\n\tb=; d=x".utf8))
    }

    @Test func publicSuffixes() {
        let list = PublicSuffixList(text: "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\n")
        #expect(list.organizationalDomain("mail.example.com") == "example.com")
        #expect(list.organizationalDomain("a.b.example.co.uk") == "example.co.uk")
        #expect(list.organizationalDomain("co.uk") == nil)
        #expect(list.organizationalDomain("x.foo.ck") == "x.foo.ck")
        #expect(list.organizationalDomain("www.ck") == "www.ck")
        #expect(list.organizationalDomain("a.sender.test") == "sender.test")
    }

    @Test func dmarcAlignmentAndPolicy() async {
        var resolver = FakeResolver()
        resolver.txt["_dmarc.sender.test"] = ["v=DMARC1; p=reject; sp=quarantine; adkim=s"]
        let dmarc = DMARCVerifier(resolver: resolver, suffixes: PublicSuffixList(text: "test\n"))
        func dkim(_ d: String) -> DKIMVerification {
            DKIMVerification(result: .pass, domain: d, selector: "s", algorithm: "rsa-sha256", signaturePrefix: "", reason: nil)
        }
        #expect(await dmarc.evaluate(fromDomain: "sender.test", spf: .fail, spfDomain: "x.test", dkim: [dkim("sender.test")]).result == .pass)
        // adkim=s: a parent's signature does not align with a subdomain's From.
        let sub = await dmarc.evaluate(fromDomain: "a.sender.test", spf: .fail, spfDomain: "x.test", dkim: [dkim("sender.test")], sample: 0)
        #expect(sub.result == .fail && sub.policy == .quarantine && sub.disposition == .quarantine)
        // aspf is relaxed: a MAIL FROM in a subdomain aligns.
        #expect(await dmarc.evaluate(fromDomain: "sender.test", spf: .pass, spfDomain: "bounce.sender.test", dkim: []).result == .pass)
        let failed = await dmarc.evaluate(fromDomain: "sender.test", spf: .softfail, spfDomain: "sender.test", dkim: [], sample: 0)
        #expect(failed.result == .fail && failed.disposition == .reject)
        #expect(await dmarc.evaluate(fromDomain: "other.test", spf: .fail, spfDomain: "", dkim: []).result == .none)
        #expect(DMARCVerifier.parse("v=DMARC1; rua=mailto:x@y.test")?.policy == DMARCOutcome.Policy.none)
        #expect(DMARCVerifier.parse("v=DMARC1; adkim=s") == nil)
    }

    @Test func resultsHeaderAndForgeries() {
        let spf = SPFOutcome(result: .pass, domain: "sender.test", explanation: nil)
        let header = String(decoding: InboundAuthentication.header(
            authservID: "mx.example.test", spf: spf, mailFrom: "ann@sender.test", helo: "client.sender.test",
            dkim: [], dmarc: DMARCOutcome(result: .pass, fromDomain: "sender.test", policy: .reject, disposition: .none),
            applied: .none), as: UTF8.self)
        #expect(header == "Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=ann@sender.test;\r\n\tdkim=none;\r\n\tdmarc=pass (p=reject dis=none) header.from=sender.test\r\n")
        // RFC 7489 §7.2.1.1: dis= is what this receiver did, here filing into Junk.
        let quarantined = String(decoding: InboundAuthentication.header(
            authservID: "mx.example.test", spf: spf, mailFrom: "ann@sender.test", helo: "client.sender.test",
            dkim: [], dmarc: DMARCOutcome(result: .fail, fromDomain: "sender.test", policy: .reject, disposition: .reject),
            applied: .quarantine), as: UTF8.self)
        #expect(quarantined.contains("dmarc=fail (p=reject dis=quarantine) header.from=sender.test"))
        #expect(InboundAuthentication.value("a b\r\nX-Evil: 1") == "\"a bX-Evil: 1\"")
        let inbound = InboundAuthentication(resolver: FakeResolver(), suffixes: PublicSuffixList(text: ""), authservID: "MX.example.test")
        let forged = Array("Authentication-Results: mx.example.test; spf=pass\r\nAuthentication-Results: other.test; dkim=pass\r\nFrom: a@b.test\r\n\r\nbody\r\n".utf8)
        #expect(String(decoding: inbound.removingForgedResults(forged), as: UTF8.self)
                    == "Authentication-Results: other.test; dkim=pass\r\nFrom: a@b.test\r\n\r\nbody\r\n")
    }
}
