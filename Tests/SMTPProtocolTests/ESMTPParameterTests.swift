import MailCore
import SMTPProtocol
import Testing

private func params(_ list: [(String, String?)]) -> [ESMTPParameter] {
    list.map { ESMTPParameter(keyword: $0.0, value: $0.1) }
}

struct MailParamCase: Sendable, CustomTestStringConvertible {
    var parameters: [ESMTPParameter]
    var expected: Result<MailParameters, SMTPSyntaxError>
    var testDescription: String { parameters.map(\.description).joined(separator: " ") }

    init(_ list: [(String, String?)], _ expected: MailParameters) {
        parameters = params(list)
        self.expected = .success(expected)
    }
    init(_ list: [(String, String?)], error: SMTPReply) {
        parameters = params(list)
        expected = .failure(SMTPSyntaxError(error))
    }
}

struct RcptParamCase: Sendable, CustomTestStringConvertible {
    var parameters: [ESMTPParameter]
    var expected: Result<RcptParameters, SMTPSyntaxError>
    var testDescription: String { parameters.map(\.description).joined(separator: " ") }

    init(_ list: [(String, String?)], _ expected: RcptParameters) {
        parameters = params(list)
        self.expected = .success(expected)
    }
    init(_ list: [(String, String?)], error: SMTPReply) {
        parameters = params(list)
        expected = .failure(SMTPSyntaxError(error))
    }
}

private let bad = SMTPReply.syntaxErrorInParameters

@Suite("MAIL and RCPT parameters")
struct ESMTPParameterTests {
    static let mailCases: [MailParamCase] = [
        MailParamCase([], MailParameters()),
        // SIZE (RFC 1870)
        MailParamCase([("SIZE", "12345")], MailParameters(size: 12345)),
        MailParamCase([("size", "0")], MailParameters(size: 0)),
        MailParamCase([("SIZE", "18446744073709551615")], MailParameters(size: UInt64.max)),
        MailParamCase([("SIZE", "99999999999999999999")], MailParameters(size: UInt64.max)),
        MailParamCase([("SIZE", "123456789012345678901")], error: .syntaxErrorInParameters("Bad SIZE parameter")),
        MailParamCase([("SIZE", "12a")], error: .syntaxErrorInParameters("Bad SIZE parameter")),
        MailParamCase([("SIZE", "-1")], error: .syntaxErrorInParameters("Bad SIZE parameter")),
        MailParamCase([("SIZE", nil)], error: .syntaxErrorInParameters("Bad SIZE parameter")),
        // BODY (RFC 6152, RFC 3030)
        MailParamCase([("BODY", "7BIT")], MailParameters(body: .sevenBit)),
        MailParamCase([("BODY", "8bitmime")], MailParameters(body: .eightBitMIME)),
        MailParamCase([("BODY", "BINARYMIME")], MailParameters(body: .binaryMIME)),
        MailParamCase([("BODY", "9BIT")], error: .syntaxErrorInParameters("Bad BODY parameter")),
        MailParamCase([("BODY", nil)], error: .syntaxErrorInParameters("Bad BODY parameter")),
        // SMTPUTF8 (RFC 6531)
        MailParamCase([("SMTPUTF8", nil)], MailParameters(smtpUTF8: true)),
        MailParamCase([("SMTPUTF8", "yes")], error: .syntaxErrorInParameters("SMTPUTF8 takes no value")),
        // RET, ENVID (RFC 3461 §4.3, §4.4)
        MailParamCase([("RET", "FULL")], MailParameters(ret: .full)),
        MailParamCase([("RET", "hdrs")], MailParameters(ret: .headers)),
        MailParamCase([("RET", "BODY")], error: .syntaxErrorInParameters("Bad RET parameter")),
        MailParamCase([("ENVID", "QQ+2B1")], MailParameters(envelopeID: "QQ+1")),
        MailParamCase([("ENVID", "a+3db")], MailParameters(envelopeID: "a=b")),
        MailParamCase([("ENVID", "a+2")], error: .syntaxErrorInParameters("Bad ENVID parameter")),
        MailParamCase([("ENVID", "a+ZZ")], error: .syntaxErrorInParameters("Bad ENVID parameter")),
        MailParamCase([("ENVID", "ü")], error: .syntaxErrorInParameters("Bad ENVID parameter")),
        MailParamCase([("ENVID", String(repeating: "x", count: 100))],
                      MailParameters(envelopeID: String(repeating: "x", count: 100))),
        MailParamCase([("ENVID", String(repeating: "x", count: 101))],
                      error: .syntaxErrorInParameters("Bad ENVID parameter")),
        // AUTH= (RFC 4954 §5)
        MailParamCase([("AUTH", "<>")], MailParameters(auth: "<>")),
        MailParamCase([("AUTH", "user+40example.com")], MailParameters(auth: "user@example.com")),
        MailParamCase([("AUTH", "e+3Dmc2")], MailParameters(auth: "e=mc2")),
        MailParamCase([("AUTH", "bad+G1")], error: .syntaxErrorInParameters("Bad AUTH parameter")),
        MailParamCase([("AUTH", nil)], error: .syntaxErrorInParameters("Bad AUTH parameter")),
        // Several together
        MailParamCase([("SIZE", "1000"), ("BODY", "8BITMIME"), ("SMTPUTF8", nil), ("RET", "HDRS"), ("ENVID", "id1"),
                       ("AUTH", "<>")],
                      MailParameters(size: 1000, body: .eightBitMIME, smtpUTF8: true, ret: .headers, envelopeID: "id1",
                                     auth: "<>")),
        // Unknown keywords: 555; duplicates: 501
        MailParamCase([("FOO", "bar")], error: .parametersNotRecognized),
        MailParamCase([("REQUIRETLS", nil)], error: .parametersNotRecognized),
        MailParamCase([("SIZE", "1"), ("X-UNKNOWN", nil)], error: .parametersNotRecognized),
        MailParamCase([("NOTIFY", "NEVER")], error: .parametersNotRecognized),
        MailParamCase([("SIZE", "1"), ("size", "2")], error: .duplicateParameter),
    ]

    @Test("MailParameters", arguments: mailCases)
    func mail(_ c: MailParamCase) {
        let result = Result { () throws(SMTPSyntaxError) in try MailParameters(c.parameters) }
        #expect(result == c.expected)
    }

    static let rcptCases: [RcptParamCase] = [
        RcptParamCase([], RcptParameters()),
        // NOTIFY (RFC 3461 §4.1)
        RcptParamCase([("NOTIFY", "NEVER")], RcptParameters(notify: .never)),
        RcptParamCase([("NOTIFY", "never")], RcptParameters(notify: .never)),
        RcptParamCase([("NOTIFY", "SUCCESS")], RcptParameters(notify: .on(.success))),
        RcptParamCase([("NOTIFY", "SUCCESS,FAILURE")], RcptParameters(notify: .on([.success, .failure]))),
        RcptParamCase([("NOTIFY", "delay,Failure,SUCCESS")], RcptParameters(notify: .on([.success, .failure, .delay]))),
        RcptParamCase([("NOTIFY", "NEVER,SUCCESS")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", "SUCCESS,NEVER")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", "SUCCESS,,FAILURE")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", "SUCCESS,SUCCESS")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", "FOO")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", "SUCCESS,")], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        RcptParamCase([("NOTIFY", nil)], error: .syntaxErrorInParameters("Bad NOTIFY parameter")),
        // ORCPT (RFC 3461 §4.2, RFC 6533 §3)
        RcptParamCase([("ORCPT", "rfc822;user+40example.com")],
                      RcptParameters(originalRecipient: .init(addressType: "rfc822", address: "user@example.com"))),
        RcptParamCase([("ORCPT", "RFC822;a@b")],
                      RcptParameters(originalRecipient: .init(addressType: "RFC822", address: "a@b"))),
        RcptParamCase([("ORCPT", "rfc822;a+2Bb@c")],
                      RcptParameters(originalRecipient: .init(addressType: "rfc822", address: "a+b@c"))),
        RcptParamCase([("ORCPT", "utf-8;j\\x{E9}r\\x{F4}me@example.com")],
                      RcptParameters(originalRecipient: .init(addressType: "utf-8", address: "jérôme@example.com"))),
        RcptParamCase([("ORCPT", "utf-8;用户@例子.广告")],
                      RcptParameters(originalRecipient: .init(addressType: "utf-8", address: "用户@例子.广告"))),
        RcptParamCase([("ORCPT", "utf-8;a\\x{}@b")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "utf-8;a\\y@b")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "rfc822")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", ";a@b")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "rfc822;")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "rfc 822;a@b")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "rfc822;a+2")], error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        RcptParamCase([("ORCPT", "rfc822;" + String(repeating: "a", count: 493))],
                      RcptParameters(originalRecipient: .init(addressType: "rfc822",
                                                              address: String(repeating: "a", count: 493)))),
        RcptParamCase([("ORCPT", "rfc822;" + String(repeating: "a", count: 494))],
                      error: .syntaxErrorInParameters("Bad ORCPT parameter")),
        // Both; unknown; duplicate
        RcptParamCase([("NOTIFY", "FAILURE,DELAY"), ("ORCPT", "rfc822;x@y")],
                      RcptParameters(notify: .on([.failure, .delay]),
                                     originalRecipient: .init(addressType: "rfc822", address: "x@y"))),
        RcptParamCase([("SIZE", "1")], error: .parametersNotRecognized),
        RcptParamCase([("NOTIFY", "NEVER"), ("notify", "NEVER")], error: .duplicateParameter),
    ]

    @Test("RcptParameters", arguments: rcptCases)
    func rcpt(_ c: RcptParamCase) {
        let result = Result { () throws(SMTPSyntaxError) in try RcptParameters(c.parameters) }
        #expect(result == c.expected)
    }

    @Test("typed parameters round-trip through their ESMTP form", arguments: mailCases)
    func mailRoundTrip(_ c: MailParamCase) throws {
        guard case .success(let parameters) = c.expected else { return }
        #expect(try MailParameters(parameters.esmtpParameters) == parameters)
    }

    @Test("typed RCPT parameters round-trip through their ESMTP form", arguments: rcptCases)
    func rcptRoundTrip(_ c: RcptParamCase) throws {
        guard case .success(let parameters) = c.expected else { return }
        #expect(try RcptParameters(parameters.esmtpParameters) == parameters)
    }

    @Test("from the wire: parse the command, then the typed parameters")
    func endToEnd() throws {
        let line = "MAIL FROM:<a@b> SIZE=2048 BODY=8BITMIME ENVID=abc+2Bdef"
        guard case .command(.mail(let path, let list)) = SMTPCommandParser.parseLine(line.utf8) else {
            Issue.record("not parsed")
            return
        }
        #expect(path == "a@b")
        let mail = try MailParameters(list)
        #expect(mail == MailParameters(size: 2048, body: .eightBitMIME, envelopeID: "abc+def"))
    }

    @Test("xtext", arguments: [
        ("", ""), ("abc", "abc"), ("a+b", "a+2Bb"), ("a=b", "a+3Db"), ("a b", "a+20b"), ("ü", "+C3+BC"),
        ("~!", "~!"),
    ])
    func xtext(_ pair: (String, String)) {
        #expect(XText.encode(pair.0) == pair.1)
        #expect(XText.decode(pair.1) == pair.0)
    }

    @Test("xtext rejects", arguments: ["a b", "a=b", "+", "+4", "+GG", "+FF", "ü"])
    func xtextInvalid(_ text: String) {
        #expect(XText.decode(text) == nil)
    }
}
