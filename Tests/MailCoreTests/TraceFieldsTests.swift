import MailCore
import Testing

@Suite struct TraceFieldsTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var message: String
        var count: Int
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "none", message: "Subject: x\r\n\r\nbody\r\n", count: 0),
        Case(name: "empty message", message: "", count: 0),
        Case(name: "no header section", message: "\r\nReceived: from a\r\n", count: 0),
        Case(name: "two", message: "Received: from a\r\nReceived: from b\r\nSubject: x\r\n\r\n", count: 2),
        Case(name: "any case", message: "RECEIVED: from a\r\nreceived: from b\r\nReCeIvEd: from c\r\n\r\n", count: 3),
        Case(name: "folded once", message: "Received: from a\r\n\tby b\r\n  with ESMTP; date\r\nSubject: x\r\n\r\n", count: 1),
        Case(name: "obsolete space before colon", message: "Received : from a\r\n\r\n", count: 1),
        Case(name: "only up to the first empty line",
             message: "Received: from a\r\n\r\nReceived: from b\r\nReceived: from c\r\n", count: 1),
        Case(name: "attached message's fields are in the body",
             message: "Received: from a\r\nContent-Type: message/rfc822\r\n\r\nReceived: from inner\r\n\r\nx\r\n", count: 1),
        Case(name: "other names that start the same",
             message: "Received-SPF: pass\r\nX-Received: by x\r\nReceivedBy: y\r\nReceived: from a\r\n\r\n", count: 1),
        Case(name: "a folded line that says Received is not a field",
             message: "Subject: a\r\n Received: from a\r\n\r\n", count: 0),
        Case(name: "LF line ends", message: "Received: from a\nReceived: from b\n\nReceived: c\n", count: 2),
        Case(name: "no empty line: all header", message: "Received: from a\r\nReceived: from b\r\n", count: 2),
    ]

    @Test(arguments: cases)
    func receivedCount(_ c: Case) {
        #expect(TraceFields.receivedCount(in: Array(c.message.utf8)) == c.count)
    }

    @Test func manyHops() {
        let fields = String(repeating: "Received: from relay\r\n\tby next; Mon, 1 Dec 2025 12:00:00 +0000\r\n", count: 51)
        #expect(TraceFields.receivedCount(in: Array((fields + "Subject: loop\r\n\r\nbody\r\n").utf8)) == 51)
    }
}
