import Foundation
import SwallowRuntime
import Testing

/// `swallow sendmail`: the command lines cron, PHP, mailx and logwatch use, and the message
/// they hand over.
@Suite("sendmail interface")
struct SendmailTests {
    @Test(arguments: [
        // PHP's default sendmail_path, cron (cronie), s-nail, logwatch, Symfony Mailer.
        (["-t", "-i"], true, true, nil as String?, [String]()),
        (["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], false, true, nil, ["root"]),
        (["-i", "--", "bob@example.test", "-odd@example.test"], false, true, nil, ["bob@example.test", "-odd@example.test"]),
        (["-oi", "-f", "www@example.test", "-t"], true, true, "www@example.test", []),
        (["-fsender@example.test", "a@x.test", "b@y.test"], false, false, "sender@example.test", ["a@x.test", "b@y.test"]),
        (["-r", "r@example.test", "-odi", "-v", "c@z.test"], false, false, "r@example.test", ["c@z.test"]),
    ])
    func commandLines(arguments: [String], headers: Bool, ignoreDots: Bool, sender: String?, recipients: [String]) throws {
        let i = try SendmailInvocation.parse(arguments)
        #expect(i.mode == .deliver)
        #expect(i.recipientsFromHeaders == headers)
        #expect(i.ignoreDots == ignoreDots)
        #expect(i.sender == sender)
        #expect(i.recipients == recipients)
    }

    @Test func modesAndSwallowsOwnOption() throws {
        #expect(try SendmailInvocation.parse(["-bs"]).mode == .smtp)
        #expect(try SendmailInvocation.parse(["-bp"]).mode == .listQueue)
        let i = try SendmailInvocation.parse(["--config", "/etc/swallow/swallow.toml", "-t", "-N", "success,failure", "-V", "env1"])
        #expect(i.config == "/etc/swallow/swallow.toml")
        #expect(i.notify == "success,failure")
        #expect(i.envelopeID == "env1")
        #expect(try SendmailInvocation.parse(["--config=/x.toml", "a@b.test"]).config == "/x.toml")
        #expect(try SendmailInvocation.parse(["-F", "Full Name", "a@b.test"]).fullName == "Full Name")
    }

    @Test(arguments: [["-bd"], ["-q"], ["-x", "a@b.test"], ["-f"], []])
    func refusedCommandLines(arguments: [String]) {
        #expect(throws: SendmailInvocation.UsageError.self) { try SendmailInvocation.parse(arguments) }
    }

    func prepare(_ input: String, _ arguments: [String]) throws -> SendmailMessage {
        try SendmailMessage.prepare(Array(input.utf8), invocation: SendmailInvocation.parse(arguments), user: "cron",
                                    hostname: "mail.example.test", now: Date(timeIntervalSince1970: 1_700_000_000), unique: "u1")
    }

    @Test func recipientsFromHeadersAndBccRemoved() throws {
        let m = try prepare("To: Bob <bob@example.test>, carol@example.test\nCc: dave@other.test\nBcc: eve@hidden.test,\n frank@hidden.test\nSubject: report\n\nbody\n", ["-t", "-i", "extra@x.test"])
        #expect(m.recipients == ["extra@x.test", "bob@example.test", "carol@example.test", "dave@other.test", "eve@hidden.test", "frank@hidden.test"])
        let text = String(decoding: m.bytes, as: UTF8.self)
        #expect(!text.contains("Bcc") && !text.contains("hidden"))
        #expect(text.hasPrefix("From: <cron@mail.example.test>\r\nTo: Bob <bob@example.test>, carol@example.test\r\n"))
        #expect(text.contains("\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"))
        #expect(text.contains("\r\nMessage-ID: <u1.1700000000@mail.example.test>\r\n"))
        #expect(text.hasSuffix("\r\n\r\nbody\r\n"))
        #expect(m.sender == "cron@mail.example.test")
    }

    @Test func dotEndsTheMessageUnlessIgnored() throws {
        let input = "Subject: dots\n\nbefore\n.\nafter\n"
        #expect(!String(decoding: try prepare(input, ["a@b.test"]).bytes, as: UTF8.self).contains("after"))
        #expect(String(decoding: try prepare(input, ["-i", "a@b.test"]).bytes, as: UTF8.self).contains("\r\n.\r\nafter\r\n"))
    }

    @Test func bodyWithoutHeaderKeepsEveryLine() throws {
        let m = try prepare("hello from cron\nsecond line\n", ["-F", "Cron \"Daemon\"", "root@example.test"])
        let text = String(decoding: m.bytes, as: UTF8.self)
        #expect(text.hasPrefix("From: \"Cron \\\"Daemon\\\"\" <cron@mail.example.test>\r\n"))
        #expect(text.hasSuffix("\r\n\r\nhello from cron\r\nsecond line\r\n"))
    }

    @Test func existingFieldsAreKeptAndNullSender() throws {
        let m = try prepare("From: app@example.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\nb\n", ["-f", "<>", "a@b.test"])
        let text = String(decoding: m.bytes, as: UTF8.self)
        #expect(text == "From: app@example.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\nb\r\n")
        #expect(m.sender == "")
        #expect(throws: SendmailMessage.Failure.self) { try prepare("Subject: none\n\n", ["-t"]) }
    }
}
