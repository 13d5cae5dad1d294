import Testing
@testable import IMAPProtocol
import LineFraming

/// The DONE line of IDLE (RFC 2177) and AUTHENTICATE continuation lines (RFC 9051 §6.2.2).
@Suite struct IdleAuthenticateTests {
    @Test func done() {
        var p = IMAPCommandParser()
        #expect(p.parseIdleDone(bytes("DONE\r\n")) == (.done, 6))
        #expect(p.parseIdleDone(bytes("done\n")) == (.done, 5))
        // Bytes after DONE (the next command) are left for the command parser.
        #expect(p.parseIdleDone(bytes("DONE\r\na NOOP\r\n")) == (.done, 6))
    }

    @Test func doneInPieces() {
        var p = IMAPCommandParser()
        #expect(p.parseIdleDone(bytes("D")) == (.needMoreBytes, 1))
        #expect(p.parseIdleDone(bytes("ON")) == (.needMoreBytes, 2))
        #expect(p.parseIdleDone(bytes("E\r")) == (.needMoreBytes, 2))
        #expect(p.parseIdleDone(bytes("\n")) == (.done, 1))
    }

    @Test func notDone() {
        var p = IMAPCommandParser()
        #expect(p.parseIdleDone(bytes("a NOOP\r\n")) == (.error(message: "Expected DONE"), 8))
        #expect(p.parseIdleDone(bytes("DONE \r\n")) == (.error(message: "Expected DONE"), 7))
    }

    @Test func overlongIdleLine() {
        var p = IMAPCommandParser()
        let junk = [UInt8](repeating: 0x41, count: 5000)
        let (r, n) = p.parseIdleDone(junk)
        #expect(r == .error(message: "Line too long (limit 1024 octets)"))
        #expect(n == 5000)
        // The rest of that line is skipped, then DONE is recognised.
        #expect(p.parseIdleDone(bytes("AAAA\r\nDONE\r\n")) == (.needMoreBytes, 6) || p.parseIdleDone(bytes("DONE\r\n")) == (.done, 6))
        #expect(p.bufferedByteCount == 0)
    }

    @Test func skipsRestOfOverlongLineThenReadsDone() {
        var p = IMAPCommandParser()
        _ = p.parseIdleDone([UInt8](repeating: 0x41, count: 2000))
        var input = bytes("AAAA\r\nDONE\r\n")
        var results: [IMAPCommandParser.IdleDoneResult] = []
        while !input.isEmpty {
            let (r, n) = p.parseIdleDone(input)
            input.removeFirst(n)
            results.append(r)
        }
        #expect(results.last == .done)
    }

    @Test func authenticateResponses() {
        var p = IMAPCommandParser()
        #expect(p.parseAuthenticateResponse(bytes("AGFsaWNlAHNlY3JldA==\r\n")) == (.response([0] + bytes("alice") + [0] + bytes("secret")), 22))
        #expect(p.parseAuthenticateResponse(bytes("*\r\n")) == (.cancelled, 3))
        #expect(p.parseAuthenticateResponse(bytes("\r\n")) == (.response([]), 2))
        #expect(p.parseAuthenticateResponse(bytes("not base64!\r\n")) == (.error(message: "Invalid base64 in authentication response"), 13))
        #expect(p.parseAuthenticateResponse(bytes("YWJj")) == (.needMoreBytes, 4))
        #expect(p.parseAuthenticateResponse(bytes("ZGVm\r\nnext")) == (.response(bytes("abcdef")), 6))
    }

    @Test func authenticateResponseLengthIsBounded() {
        var p = IMAPCommandParser(configuration: .init(maxLineLength: 100))
        let long = [UInt8](repeating: 0x41, count: 400) + bytes("\r\n")
        #expect(p.parseAuthenticateResponse(long) == (.error(message: "Line too long (limit 100 octets)"), 402))
        #expect(p.parseAuthenticateResponse(bytes("*\r\n")) == (.cancelled, 3))
    }

    @Test func base64() {
        #expect(Base64.encode(bytes("")) == [])
        #expect(Base64.encode(bytes("f")) == bytes("Zg=="))
        #expect(Base64.encode(bytes("fo")) == bytes("Zm8="))
        #expect(Base64.encode(bytes("foobar")) == bytes("Zm9vYmFy"))
        #expect(Base64.decode(bytes("Zg==")) == bytes("f"))
        #expect(Base64.decode(bytes("Zm8=")) == bytes("fo"))
        #expect(Base64.decode(bytes("Zm9vYmFy")) == bytes("foobar"))
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v YmFy", "=Zg=", "Zm=v"] {
            #expect(Base64.decode(bytes(bad)) == nil, "\(bad)")
        }
        var rng = SeededRNG(seed: 7)
        for n in 0..<64 {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
    }
}
