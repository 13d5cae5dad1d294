import Logging
import NIOCore
import NIOPosix
import Testing
@testable import Filters

@Suite("content filters: scanner protocols and decisions")
struct FiltersTests {
    @Test func scannerAddresses() {
        #expect(ScannerAddress("127.0.0.1:3310") == .tcp(host: "127.0.0.1", port: 3310))
        #expect(ScannerAddress("[::1]:783") == .tcp(host: "::1", port: 783))
        #expect(ScannerAddress("unix:/run/clamav/clamd.ctl") == .unix(path: "/run/clamav/clamd.ctl"))
        for bad in ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":25", "unix:relative", ""] {
            #expect(ScannerAddress(bad) == nil, "\(bad)")
        }
        #expect(ScannerAddress("[::1]:783")?.description == "[::1]:783")
    }

    /// clamd(8) INSTREAM: `zINSTREAM\0`, chunks each after a 4-byte network-order length, then 0.
    @Test func clamdStreamFraming() {
        let message = [UInt8](repeating: 0x41, count: ClamdClient.chunkSize + 10)
        let parts = ClamdClient.request(message)
        #expect(parts.first == Array("zINSTREAM\0".utf8))
        #expect(parts.count == 4)
        #expect(Array(parts[1].prefix(4)) == [0, 1, 0, 0])
        #expect(parts[1].count == 4 + ClamdClient.chunkSize)
        #expect(Array(parts[2].prefix(4)) == [0, 0, 0, 10])
        #expect(parts[3] == [0, 0, 0, 0])
        #expect(ClamdClient.request([]).count == 2, "an empty message is the command and the end")
    }

    @Test func clamdAnswers() throws {
        let at = ScannerAddress("127.0.0.1:3310")!
        #expect(try ClamdClient.verdict(Array("stream: OK\0".utf8), from: at) == .clean)
        #expect(try ClamdClient.verdict(Array("stream: Eicar-Test-Signature FOUND\0".utf8), from: at)
            == .infected(signature: "Eicar-Test-Signature"))
        #expect(throws: ScannerUnavailable.self) { try ClamdClient.verdict(Array("INSTREAM size limit exceeded. ERROR\0".utf8), from: at) }
        #expect(throws: ScannerUnavailable.self) { try ClamdClient.verdict([], from: at) }
        #expect(throws: ScannerUnavailable.self) { try ClamdClient.verdict(Array("stream:  FOUND\0".utf8), from: at) }
    }

    /// spamd(1) PROTOCOL: `SPAMD/1.1 0 EX_OK` then `Spam: True ; score / threshold`.
    @Test func spamdAnswers() throws {
        let at = ScannerAddress("127.0.0.1:783")!
        let spam = try SpamdClient.score(Array("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n".utf8), from: at)
        #expect(spam.score == 1000 && spam.required == 5 && spam.isSpam && spam.action == nil)
        let ham = try SpamdClient.score(Array("SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n".utf8), from: at)
        #expect(ham.score == -0.1 && !ham.isSpam)
        #expect(throws: ScannerUnavailable.self) { try SpamdClient.score(Array("SPAMD/1.0 76 Bad header line: x\r\n".utf8), from: at) }
        #expect(throws: ScannerUnavailable.self) { try SpamdClient.score(Array("SPAMD/1.1 0 EX_OK\r\n\r\n".utf8), from: at) }
        #expect(throws: ScannerUnavailable.self) { try SpamdClient.score(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), from: at) }
    }

    @Test func rspamdAnswers() throws {
        let at = ScannerAddress("127.0.0.1:11333")!
        let json = #"{"is_skipped":false,"score":12.5,"required_score":15.0,"action":"add header","symbols":{"GTUBE":{},"MISSING_DATE":{}}}"#
        let plain = try RspamdClient.score(Array("HTTP/1.1 200 OK\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)".utf8), from: at)
        #expect(plain == SpamScore(score: 12.5, required: 15, isSpam: true, action: "add header", subject: nil, symbols: ["GTUBE", "MISSING_DATE"]))
        let half = json.utf8.count / 2
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(half, radix: 16) + "\r\n" + String(json.prefix(half)) + "\r\n"
            + String(json.utf8.count - half, radix: 16) + ";ext=1\r\n" + String(json.dropFirst(half)) + "\r\n0\r\n\r\n"
        #expect(try RspamdClient.score(Array(chunked.utf8), from: at) == plain)
        #expect(throws: ScannerUnavailable.self) { try RspamdClient.score(Array("HTTP/1.1 500 Internal\r\n\r\noops".utf8), from: at) }
        #expect(throws: ScannerUnavailable.self) { try RspamdClient.score(Array("HTTP/1.1 200 OK\r\n\r\n{\"score\":1}".utf8), from: at) }
        #expect(throws: ScannerUnavailable.self) { try RspamdClient.score(Array("garbage".utf8), from: at) }
    }

    /// The envelope goes in request headers; nothing from the session can split a line.
    @Test func rspamdRequestHead() {
        var e = ScanEnvelope()
        e.clientIP = "192.0.2.1"
        e.helo = "evil\r\nX-Injected: 1"
        e.sender = "a@example.test"
        e.recipients = ["b@example.test", "c@example.test"]
        let head = String(decoding: RspamdClient.request(10, envelope: e), as: UTF8.self)
        #expect(head.hasPrefix("POST /checkv2 HTTP/1.1\r\n"))
        #expect(head.contains("Content-Length: 10\r\n"))
        #expect(head.contains("Rcpt: <b@example.test>\r\nRcpt: <c@example.test>\r\n"))
        #expect(head.contains("Helo: evilX-Injected: 1\r\n"))
        #expect(!head.contains("\r\nX-Injected"))
        #expect(head.hasSuffix("\r\n\r\n"))
    }

    @Test func spamdDecisions() {
        var config = ContentFilterConfiguration.Spam(engine: .spamd, address: .tcp(host: "127.0.0.1", port: 783))
        let gtube = SpamScore(score: 1000, required: 5, isSpam: true, action: nil, subject: nil, symbols: [])
        let ham = SpamScore(score: 1.2, required: 5, isSpam: false, action: nil, subject: nil, symbols: [])
        #expect(ContentFilters.decide(ham, config) == .accept(
            headers: Array("X-Spam-Flag: NO\r\nX-Spam-Status: No, score=1.2 required=5.0\r\nX-Spam-Score: 1.2\r\n".utf8), junk: false, subject: nil))
        guard case .accept(_, let junk, _) = ContentFilters.decide(gtube, config) else { Issue.record("refused"); return }
        #expect(junk, "at spamd's own threshold by default")
        config.junkScore = 2
        guard case .accept(_, true, _) = ContentFilters.decide(SpamScore(score: 2, required: 5, isSpam: false, action: nil, subject: nil, symbols: []), config) else {
            Issue.record("junk_score not applied"); return
        }
        config.rejectScore = 15
        #expect(ContentFilters.decide(gtube, config) == .refuse(code: 550, enhanced: (5, 7, 1), text: "Message refused as spam"))
    }

    @Test func rspamdActions() {
        let config = ContentFilterConfiguration.Spam(engine: .rspamd, address: .tcp(host: "127.0.0.1", port: 11333))
        func score(_ action: String, subject: String? = nil) -> SpamScore {
            SpamScore(score: 9, required: 15, isSpam: true, action: action, subject: subject, symbols: [])
        }
        #expect(ContentFilters.decide(score("reject"), config) == .refuse(code: 550, enhanced: (5, 7, 1), text: "Message refused as spam"))
        guard case .refuse(451, _, _) = ContentFilters.decide(score("soft reject"), config),
              case .refuse(451, _, _) = ContentFilters.decide(score("greylist"), config),
              case .accept(let headers, true, nil) = ContentFilters.decide(score("add header"), config),
              case .accept(_, true, "*** SPAM *** hi") = ContentFilters.decide(score("rewrite subject", subject: "*** SPAM *** hi"), config),
              case .accept(_, false, nil) = ContentFilters.decide(score("no action"), config) else {
            Issue.record("an action was not honoured"); return
        }
        #expect(String(decoding: headers, as: UTF8.self).contains("X-Spam-Action: add header\r\n"))
    }

    @Test func subjectRewrite() {
        let message = Array("From: a@example.test\r\nSubject: hello\r\n folded\r\nTo: b@example.test\r\n\r\nSubject: body\r\n".utf8)
        #expect(String(decoding: ContentFilters.rewritingSubject(message, to: "*** SPAM *** hello folded"), as: UTF8.self)
            == "From: a@example.test\r\nSubject: *** SPAM *** hello folded\r\nTo: b@example.test\r\n\r\nSubject: body\r\n")
        #expect(String(decoding: ContentFilters.rewritingSubject(Array("To: b\r\n\r\nx".utf8), to: "[SPAM]"), as: UTF8.self)
            == "Subject: [SPAM]\r\nTo: b\r\n\r\nx")
        #expect(String(decoding: ContentFilters.rewritingSubject(Array("Subject: x\r\n\r\n".utf8), to: "Grüße"), as: UTF8.self)
            == "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\n")
    }

    /// A scanner that takes the connection and never answers: the deadline ends the wait, and
    /// the configured policy decides (451 by default for the virus scanner, accept for spam).
    @Test(.timeLimit(.minutes(1))) func silentScannerTimesOut() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let port = server.localAddress!.port!
        let address = ScannerAddress("127.0.0.1:\(port)")!
        // The deadline, not the peer, ended the wait (no timing assertion: CI load varies).
        let error = await #expect(throws: ScannerUnavailable.self) {
            try await ClamdClient(address: address, timeout: .milliseconds(500)).scan(Array("x\r\n".utf8))
        }
        let reason = error?.description ?? ""
        #expect(reason.contains("no answer within") || reason.contains("connectTimeout"), "\(reason)")

        var config = ContentFilterConfiguration(antivirus: .init(address: address))
        config.antivirus?.timeout = .milliseconds(300)
        let logger = Logger(label: "filters-test")
        #expect(await ContentFilters(config).scan([], envelope: ScanEnvelope(), trusted: false, logger: logger)
            == .refuse(code: 451, enhanced: (4, 7, 1), text: ContentFilters.unavailable))
        config.antivirus?.onFailure = .accept
        config.spam = .init(engine: .spamd, address: address)
        config.spam?.timeout = .milliseconds(300)
        #expect(await ContentFilters(config).scan([], envelope: ScanEnvelope(), trusted: false, logger: logger)
            == .accept(headers: [], junk: false, subject: nil))
    }
}
