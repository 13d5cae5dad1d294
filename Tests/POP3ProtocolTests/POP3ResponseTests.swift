import POP3Protocol
import Testing

@Suite("POP3 response encoder")
struct POP3ResponseTests {
    @Test func singleLines() {
        #expect(text(POP3Response.ok("2 320").encoded) == "+OK 2 320\r\n")
        #expect(text(POP3Response.ok().encoded) == "+OK\r\n")
        #expect(text(POP3Response.error("no such message").encoded) == "-ERR no such message\r\n")
        #expect(text(POP3Response.error(.auth, "Authentication failed").encoded) == "-ERR [AUTH] Authentication failed\r\n")
        #expect(text(POP3Response.error(.sysTemp, "try later").encoded) == "-ERR [SYS/TEMP] try later\r\n")
        #expect(text(POP3Response.error(.sysPerm, "").encoded) == "-ERR [SYS/PERM]\r\n")
        #expect(text(POP3Response.error(.inUse, "locked").encoded) == "-ERR [IN-USE] locked\r\n")
        #expect(text(POP3Response.error(.loginDelay, "wait").encoded) == "-ERR [LOGIN-DELAY] wait\r\n")
        // RFC 5034 §4: "+" SP, even when the challenge is empty.
        #expect(text(POP3Response.challenge("").encoded) == "+ \r\n")
        #expect(text(POP3Response.challenge("cj1hYmM=").encoded) == "+ cj1hYmM=\r\n")
        #expect(POP3Response.error(.auth, "x").description == "-ERR [AUTH] x")
    }

    @Test func responseCodesOnlyOnErrors() {
        #expect(POP3Response(status: .ok, code: .auth, text: "fine").code == nil)
        #expect(text(POP3Response(status: .ok, code: .auth, text: "fine").encoded) == "+OK fine\r\n")
    }

    @Test func controlCharactersNeverReachTheWire() {
        let evil = POP3Response.error("bad\r\n+OK injected\u{0}\u{7F}")
        #expect(text(evil.encoded) == "-ERR bad  +OK injected  \r\n")
        #expect(evil.encoded.filter { $0 == 0x0A }.count == 1)
    }

    /// RFC 2449 §4: response lines are at most 512 octets.
    @Test func longTextIsCutAtTheLineLimit() {
        let long = POP3Response.ok(String(repeating: "é", count: 600))
        let wire = long.encoded
        #expect(wire.count <= POP3Limits.maxResponseLineLength)
        #expect(wire.suffix(2) == [0x0D, 0x0A])
        #expect(String(validating: wire, as: UTF8.self) != nil, "cut at a character boundary")
        // Challenges are never cut: their base64 must arrive whole.
        let challenge = POP3Response.challenge(String(repeating: "QUJD", count: 200))
        #expect(challenge.encoded.count == 2 + 800 + 2)
    }

    @Test func multilineListingsAreStuffedAndTerminated() {
        let wire = POP3Response.ok("Capability list follows").encodedMultiline(lines: ["CAPA", "TOP", ".hidden", "SASL PLAIN"])
        #expect(text(wire) == "+OK Capability list follows\r\nCAPA\r\nTOP\r\n..hidden\r\nSASL PLAIN\r\n.\r\n")
        #expect(text(POP3Response.ok("0 messages").encodedMultiline(lines: [])) == "+OK 0 messages\r\n.\r\n")
        #expect(text(POP3Response.ok().encodedMultiline(lines: ["a\r\nb"])) == "+OK\r\na  b\r\n.\r\n")
    }

    @Test func everyCodeHasItsRFCSpelling() {
        #expect(POP3ResponseCode.allCases.map(\.rawValue) == ["AUTH", "SYS/TEMP", "SYS/PERM", "IN-USE", "LOGIN-DELAY", "UTF8"])
    }
}
