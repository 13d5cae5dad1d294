import MailAuth
import MailCore
import SMTPProtocol
import Testing
@testable import SMTPServer

@Suite("SMTP session state machine")
struct SMTPSessionTests {
    static let alice = Account(id: UserID(1), address: "alice@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)

    func session(_ role: SMTPRole, trusted: Bool = false, tls: Bool = false, plaintext: Bool = false,
                 tlsAuthOnly: Bool = true) -> SMTPSession {
        var config = SMTPServerConfiguration(role: role, hostname: "mx.example.test")
        config.isTrustedClient = { _ in trusted }
        config.allowPlaintextWithoutTLS = plaintext
        config.tlsAuthOnly = tlsAuthOnly
        return SMTPSession(configuration: config, clientIP: "192.0.2.1", tlsAvailable: true, tlsActive: tls)
    }

    func reply(_ action: SMTPSession.Action) -> SMTPReply? {
        if case .reply(let r) = action { return r }
        return nil
    }

    @Test func ehloAdvertisesWhatIsImplemented() {
        var s = session(.submission)
        guard case .reply(let r) = s.handle(.ehlo("client.test")) else { Issue.record("no reply"); return }
        #expect(r.code == 250)
        #expect(Array(r.lines.dropFirst()) == ["PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                                               "CHUNKING", "BINARYMIME", "DSN", "STARTTLS"])
        var secure = session(.submission, tls: true)
        let lines = reply(secure.handle(.ehlo("c")))?.lines ?? []
        #expect(lines.contains("AUTH PLAIN LOGIN SCRAM-SHA-256"))
        #expect(!lines.contains("STARTTLS"), "no STARTTLS once TLS is up")
        var lmtp = session(.lmtp)
        let lmtpLines = reply(lmtp.handle(.lhlo("c")))?.lines ?? []
        #expect(!lmtpLines.contains { $0.hasPrefix("AUTH") || $0 == "STARTTLS" })
    }

    @Test func lmtpAndSMTPGreetingsAreNotInterchangeable() {
        var lmtp = session(.lmtp)
        #expect(reply(lmtp.handle(.ehlo("c")))?.code == 500)
        #expect(reply(lmtp.handle(.helo("c")))?.code == 500)
        var smtp = session(.mx)
        #expect(reply(smtp.handle(.lhlo("c")))?.code == 500)
    }

    @Test func noAuthenticationBeforeTLS() {
        // Postfix's smtpd_tls_auth_only, on by default: not even SCRAM before STARTTLS, and
        // EHLO offers no AUTH.
        var s = session(.submission)
        let lines = reply(s.handle(.ehlo("c")))?.lines ?? []
        #expect(!lines.contains { $0.hasPrefix("AUTH") })
        #expect(reply(s.handle(.auth(mechanism: "SCRAM-SHA-256", initialResponse: nil)))?.code == 530)
        #expect(reply(s.handle(.auth(mechanism: "PLAIN", initialResponse: "AGFAYgBj")))?.code == 530)
        #expect(reply(s.handle(.auth(mechanism: "CRAM-MD5", initialResponse: nil)))?.code == 504)
        // tls_auth_only = false: SCRAM before TLS, PLAIN and LOGIN still not.
        var scramOnly = session(.submission, tlsAuthOnly: false)
        _ = scramOnly.handle(.ehlo("c"))
        #expect(reply(scramOnly.handle(.auth(mechanism: "PLAIN", initialResponse: "AGFAYgBj")))?.code == 538)
        guard case .authenticate(.scramSHA256, nil) = scramOnly.handle(.auth(mechanism: "SCRAM-SHA-256", initialResponse: nil)) else {
            Issue.record("SCRAM refused with tls_auth_only = false")
            return
        }
        var allowed = session(.submission, plaintext: true)
        _ = allowed.handle(.ehlo("c"))
        guard case .authenticate(.plain, let initial) = allowed.handle(.auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlQGV4YW1wbGUudGVzdABwdw==")),
              initial == Array("\u{0}alice@example.test\u{0}pw".utf8) else {
            Issue.record("PLAIN with allow_plaintext_without_tls")
            return
        }
    }

    @Test func threeFailedLoginsCloseTheSession() {
        var s = session(.submission, tls: true)
        _ = s.handle(.ehlo("c"))
        #expect(reply(s.authenticationFailed(maxFailures: 3))?.code == 535)
        #expect(reply(s.authenticationFailed(maxFailures: 3))?.code == 535)
        guard case .close(let r) = s.authenticationFailed(maxFailures: 3) else { Issue.record("not closed"); return }
        #expect(r.code == 421)
    }

    @Test func authenticatedSenderIsCheckedOnEveryPort() {
        var s = session(.mx, trusted: true, tls: true)
        _ = s.handle(.ehlo("c"))
        s.authenticated(as: Self.alice)
        guard case .checkSender = s.handle(.mail(reversePath: "ceo@example.test", parameters: [])) else {
            Issue.record("port 25 lets an authenticated user send as anyone")
            return
        }
    }

    @Test func ourOwnNameIsNeverTrustedForRelay() {
        var s = session(.mx, trusted: true)
        _ = s.handle(.ehlo("mx.example.test"))
        #expect(!s.clientTrusted)
        var t = session(.mx, trusted: true)
        _ = t.handle(.ehlo("client.example.test"))
        #expect(t.clientTrusted)
    }

    @Test func submissionRequiresAuthenticationAndOwnedSender() throws {
        var s = session(.submission, tls: true)
        _ = s.handle(.ehlo("c"))
        #expect(reply(s.handle(.mail(reversePath: "alice@example.test", parameters: [])))?.code == 530)
        s.authenticated(as: Self.alice)
        guard case .checkSender(let sender, let params) = s.handle(.mail(reversePath: "bob@example.test", parameters: [])) else {
            Issue.record("no sender check")
            return
        }
        let refused = reply(s.senderChecked(sender, params, allowed: false))
        #expect(refused?.code == 553 && refused?.enhanced == EnhancedStatus(5, 7, 1))
        #expect(s.transaction == nil)
        guard case .checkSender(let own, let p2) = s.handle(.mail(reversePath: "alice@example.test", parameters: [])) else { return }
        #expect(reply(s.senderChecked(own, p2, allowed: true))?.code == 250)
        #expect(s.transaction != nil)
    }

    /// DESIGN.md §4: the open-relay matrix, decided at RCPT.
    @Test(arguments: [
        (SMTPRole.mx, false, false, 554),   // stranger -> remote: refused
        (SMTPRole.mx, true, false, 250),    // trusted network -> remote
        (SMTPRole.mx, false, true, 250),    // authenticated -> remote
        (SMTPRole.lmtp, true, false, 550),  // LMTP delivers locally only
    ])
    func relayPolicy(role: SMTPRole, trusted: Bool, authenticated: Bool, expected: Int) throws {
        var s = session(role, trusted: trusted, tls: true)
        _ = role == .lmtp ? s.handle(.lhlo("c")) : s.handle(.ehlo("c"))
        if authenticated {
            s.authenticated(as: Self.alice)
            guard case .checkSender(let sender, let params) = s.handle(.mail(reversePath: "alice@example.test", parameters: [])) else {
                Issue.record("no sender check")
                return
            }
            _ = s.senderChecked(sender, params, allowed: true)
        } else {
            _ = s.handle(.mail(reversePath: "someone@elsewhere.test", parameters: []))
        }
        guard case .resolveRecipient(let address, let params) = s.handle(.rcpt(forwardPath: "x@remote.test", parameters: [])) else {
            Issue.record("no lookup")
            return
        }
        #expect(reply(s.recipientResolved(address, params, .remote))?.code == expected)
    }

    @Test func unknownLocalUserIsRefusedAtRCPT() {
        var s = session(.mx)
        _ = s.handle(.ehlo("c"))
        _ = s.handle(.mail(reversePath: "", parameters: []))
        let address = EmailAddress(localPart: "nobody", domain: "example.test")
        let r = reply(s.recipientResolved(address, RcptParameters(), .unknown))
        #expect(r?.code == 550 && r?.enhanced == EnhancedStatus(5, 1, 1))
    }

    @Test func sequenceErrors() {
        var s = session(.mx)
        #expect(reply(s.handle(.mail(reversePath: "a@b.test", parameters: [])))?.code == 503, "MAIL before EHLO")
        _ = s.handle(.ehlo("c"))
        #expect(reply(s.handle(.rcpt(forwardPath: "a@b.test", parameters: [])))?.code == 503, "RCPT before MAIL")
        #expect(reply(s.handle(.data))?.code == 503, "DATA before MAIL")
        _ = s.handle(.mail(reversePath: "a@b.test", parameters: []))
        #expect(reply(s.handle(.mail(reversePath: "a@b.test", parameters: [])))?.code == 503, "nested MAIL")
        #expect(reply(s.handle(.data))?.code == 554, "DATA without recipients")
        guard case .readChunk(_, _, let rejection) = s.handle(.bdat(size: 10, last: true)) else { return }
        #expect(rejection?.code == 554, "BDAT without recipients still reads the chunk, then refuses")
        #expect(reply(s.handle(.rset))?.code == 250)
        #expect(s.transaction == nil)
    }

    @Test func sizeParameterOverTheLimitIsRefusedAtMAIL() {
        var s = session(.mx)
        _ = s.handle(.ehlo("c"))
        let r = reply(s.handle(.mail(reversePath: "a@b.test", parameters: [ESMTPParameter(keyword: "SIZE", value: "52428801")])))
        #expect(r?.code == 552 && r?.enhanced == EnhancedStatus(5, 3, 4))
        #expect(reply(s.handle(.mail(reversePath: "a@b.test", parameters: [ESMTPParameter(keyword: "SIZE", value: "1000")])))?.code == 250)
    }

    @Test func tooManyErrorsCloseTheSession() {
        var s = session(.mx)
        for _ in 0..<19 { _ = s.error(.commandUnrecognized) }
        guard case .close(let r) = s.error(.commandUnrecognized) else { Issue.record("not closed"); return }
        #expect(r.code == 421)
    }

    @Test func tlsResetsTheSession() {
        var s = session(.submission)
        _ = s.handle(.ehlo("c"))
        guard case .startTLS = s.handle(.starttls) else { Issue.record("no STARTTLS"); return }
        s.tlsStarted()
        #expect(s.heloName == nil && s.account == nil && s.tlsActive)
        #expect(reply(s.handle(.mail(reversePath: "a@b.test", parameters: [])))?.code == 503, "EHLO needed again after TLS")
    }

    @Test func receivedHeaderNamesQueueIDAndProtocol() {
        let text = String(decoding: ReceivedHeader.make(helo: "client (evil)\r\nX: y", clientIP: "192.0.2.1", hostname: "mx.example.test",
                                                         protocolName: ReceivedHeader.protocolName(lmtp: false, esmtp: true, tls: true, authenticated: true, utf8: false),
                                                         queueID: "0123456789ABCDEF", recipient: "a@example.test"), as: UTF8.self)
        #expect(text.hasPrefix("Received: from clientevilX:y ([192.0.2.1])\r\n\tby mx.example.test (Swallow) with ESMTPSA id 0123456789ABCDEF\r\n\tfor <a@example.test>; "))
        #expect(text.hasSuffix(" +0000\r\n"))
        #expect(text.components(separatedBy: "\r\n").count == 4)
    }
}
