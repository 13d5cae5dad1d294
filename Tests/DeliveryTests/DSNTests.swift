import Foundation
import MailCore
import Testing

@Suite("RFC 3464 delivery status notifications")
struct DSNTests {
    let original = Array("From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\nsecret body\r\n".utf8)

    func report(returnFull: Bool) -> String {
        let dsn = DeliveryStatusNotification(
            reportingMTA: "mx.a.test", to: "a@a.test", envelopeID: "ENV1", arrival: Date(timeIntervalSince1970: 0),
            recipients: [.init(address: "b@b.test", originalRecipient: "rfc822;b@b.test", action: .failed, status: "5.1.1",
                               diagnostic: "550 5.1.1 <b@b.test>: User unknown\r\nsecond line", remoteMTA: "mx.b.test")],
            original: original, returnFull: returnFull)
        return String(decoding: dsn.message(boundary: "BOUNDARY"), as: UTF8.self)
    }

    @Test func structureAndFields() {
        let text = report(returnFull: false)
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"BOUNDARY\"\r\n"))
        #expect(text.contains("--BOUNDARY\r\nContent-Type: message/delivery-status\r\n"))
        #expect(text.contains("Original-Envelope-Id: ENV1\r\nReporting-MTA: dns; mx.a.test\r\nArrival-Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\n"))
        #expect(text.contains("Original-Recipient: rfc822;b@b.test\r\nFinal-Recipient: rfc822; b@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 <b@b.test>: User unknown  second line\r\n"), "one header line")
        #expect(text.contains("Content-Type: text/rfc822-headers"))
        #expect(text.contains("Subject: hi") && !text.contains("secret body"), "RET=HDRS returns the header only")
        #expect(text.hasSuffix("--BOUNDARY--\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "no bare LF")
    }

    @Test func retFullReturnsTheMessage() {
        let text = report(returnFull: true)
        #expect(text.contains("Content-Type: message/rfc822\r\n"))
        #expect(text.contains("secret body"))
    }

    /// RFC 3464 §2.2.1: Original-Envelope-Id is xtext. ENVID=a+0D+0ABcc:+20evil@x arrives
    /// decoded; written back as it came, it would add a Bcc: line to the report.
    @Test func envelopeIDIsWrittenAsXtext() {
        let dsn = DeliveryStatusNotification(
            reportingMTA: "mx.a.test", to: "a@a.test", envelopeID: "a\r\nBcc: evil@x", arrival: Date(timeIntervalSince1970: 0),
            recipients: [.init(address: "b@b.test", action: .failed, status: "5.1.1")], original: original, returnFull: false)
        let text = String(decoding: dsn.message(boundary: "BOUNDARY"), as: UTF8.self)
        #expect(text.contains("\r\nOriginal-Envelope-Id: a+0D+0ABcc:+20evil@x\r\n"))
        #expect(!text.contains("\nBcc:"))
    }

    @Test func statusFromReplies() {
        #expect(DeliveryStatusNotification.status(from: "RCPT TO: 550 5.1.1 User unknown", permanent: true) == "5.1.1")
        #expect(DeliveryStatusNotification.status(from: "connection refused", permanent: true) == "5.0.0")
        #expect(DeliveryStatusNotification.status(from: "451 4.3.0 try later", permanent: false) == "4.3.0")
    }
}
