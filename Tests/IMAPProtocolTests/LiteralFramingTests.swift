import Testing
@testable import IMAPProtocol

/// Framing: literals and continuations (RFC 9051 §4.3, §7.5), LITERAL+ / LITERAL- (RFC 7888),
/// limits and resynchronisation after errors.
@Suite struct LiteralFramingTests {
    @Test func continuationIsRequestedExactlyOncePerLiteral() {
        var p = IMAPCommandParser()
        // The header arrives in pieces; "+" is requested only when the line is complete.
        #expect(p.parse(bytes("a LOGIN {")) == (.needMoreBytes, 9))
        #expect(p.parse(bytes("5}\r")) == (.needMoreBytes, 3))
        #expect(p.parse(bytes("\n")) == (.needContinuation(literalSize: 5), 1))
        #expect(p.hasPartialCommand)
        // Literal data in pieces, then the next literal header.
        #expect(p.parse(bytes("ali")) == (.needMoreBytes, 3))
        #expect(p.parse(bytes("ce {6}\r\nsec")) == (.needContinuation(literalSize: 6), 8))
        #expect(p.parse(bytes("sec")) == (.needMoreBytes, 3))
        #expect(p.parse(bytes("ret\r\nb NOOP\r\n")) == (cmd("a", .login(username: "alice", password: "secret")), 5))
        #expect(!p.hasPartialCommand)
        #expect(p.parse(bytes("b NOOP\r\n")) == (cmd("b", .noop), 8))
    }

    @Test func pipelinedCommandsAreReturnedOneAtATime() {
        var p = IMAPCommandParser()
        let input = bytes("a NOOP\r\nb CAPABILITY\r\nc LOGOUT\r\n")
        var offset = 0
        var seen: [PR] = []
        while offset < input.count {
            let (r, n) = p.parse(Array(input[offset...]))
            seen.append(r)
            offset += n
        }
        #expect(seen == [cmd("a", .noop), cmd("b", .capability), cmd("c", .logout)])
    }

    @Test func zeroLengthLiterals() {
        let results = Driver.run(bytes("a LOGIN {0}\r\n {0+}\r\n\r\n"))
        #expect(results == [.needContinuation(literalSize: 0), cmd("a", .login(username: "", password: ""))])
        let sync = Driver.run(bytes("a LOGIN x {0}\r\n\r\n"))
        #expect(sync == [.needContinuation(literalSize: 0), cmd("a", .login(username: "x", password: ""))])
    }

    @Test func bracesInsideQuotedStringsAreNotLiterals() {
        #expect(parseOne("a SELECT \"foo {3}\"\r\n") == .select("foo {3}", parameters: []))
        #expect(parseOne("a LOGIN \"{5}\" \"x\\\"{2}\"\r\n") == .login(username: "{5}", password: "x\"{2}"))
        // An unterminated quoted string ending in "{3}": no literal, the line is the whole command.
        let results = Driver.run(bytes("a SELECT \"foo {3}\r\nb NOOP\r\n"))
        #expect(results.count == 2)
        #expect(errorMessage(results)?.contains("unterminated quoted string") == true)
        #expect(results.last == cmd("b", .noop))
    }

    @Test func unknownCommandWithSynchronizingLiteralGetsNoContinuation() {
        let results = Driver.run(bytes("a FOO {10}\r\nb NOOP\r\n"))
        #expect(results == [.error(tag: "a", message: "Unknown command FOO"), cmd("b", .noop)])
    }

    @Test func unknownCommandWithNonSynchronizingLiteralIsSkipped() {
        let results = Driver.run(bytes("a FOO {10+}\r\nc LOGOUT\r\n more {3+}\r\nx\r\n rest\r\nb NOOP\r\n"))
        #expect(results == [.error(tag: "a", message: "Unknown command FOO"), cmd("b", .noop)])
    }

    @Test func syntaxErrorAfterLiteralsResynchronisesAtTheCommandEnd() {
        let results = Driver.run(bytes("a LOGIN {3+}\r\nabc {3+}\r\ndef extra\r\nb NOOP\r\n"))
        #expect(results.count == 2)
        #expect(errorMessage(results)?.contains("after LOGIN arguments") == true)
        #expect(results.last == cmd("b", .noop))
    }

    @Test func invalidPrefixIsRejectedBeforeContinuation() {
        let results = Driver.run(bytes("a SELECT INBOX {5}\r\nb NOOP\r\n"))
        #expect(results.count == 2)
        guard case .error(let tag, let message) = results.first else { Issue.record("\(results)"); return }
        #expect(tag == "a")
        #expect(message.hasPrefix("SELECT: expected \"(\" of SELECT parameters"), "\(message)")
        #expect(results.last == cmd("b", .noop))
    }

    @Test func literalOverStringLimit() {
        let config = IMAPCommandParser.Configuration(maxLiteralSize: 100)
        #expect(Driver.run(bytes("a LOGIN {101}\r\nb NOOP\r\n"), configuration: config)
            == [.tooBig(tag: "a", message: "Literal too large (limit 100 octets)"), cmd("b", .noop)])
        // Non-synchronizing: the 101 octets arrive and are skipped, then the rest of the command.
        let data = [UInt8](repeating: 0x0A, count: 101)
        #expect(Driver.run(bytes("a LOGIN {101+}\r\n") + data + bytes(" pw\r\nb NOOP\r\n"), configuration: config)
            == [.tooBig(tag: "a", message: "Literal too large (limit 100 octets)"), cmd("b", .noop)])
        let ok = [UInt8](repeating: 0x41, count: 100)
        #expect(Driver.run(bytes("a LOGIN {100+}\r\n") + ok + bytes(" pw\r\n"), configuration: config)
            == [cmd("a", .login(username: String(repeating: "A", count: 100), password: "pw"))])
    }

    @Test func literalMinusLimit() {
        let config = IMAPCommandParser.Configuration(maxNonSynchronizingLiteralSize: IMAPCommandParser.Configuration.literalMinusLimit)
        let big = [UInt8](repeating: 0x41, count: 5000)
        // Allowed as a synchronizing literal, rejected as a non-synchronizing one.
        #expect(Driver.run(bytes("a APPEND INBOX {5000}\r\n") + big + bytes("\r\n"), configuration: config)
            == [.needContinuation(literalSize: 5000), cmd("a", .append("INBOX", messages: [AppendMessage(data: big)]))])
        #expect(Driver.run(bytes("a APPEND INBOX {5000+}\r\n") + big + bytes("\r\nb NOOP\r\n"), configuration: config)
            == [.tooBig(tag: "a", message: "Non-synchronizing literal larger than 4096 octets"), cmd("b", .noop)])
    }

    @Test func hugeNonSynchronizingLiteralIsFatal() {
        let config = IMAPCommandParser.Configuration(maxLiteralSize: 100, maxDiscardedLiteralSize: 1000)
        var d = Driver(configuration: config)
        d.feed(bytes("a LOGIN {1001+}\r\nb NOOP\r\n"))
        d.feed(bytes("c NOOP\r\n"))
        #expect(d.results == [.fatal(tag: "a", message: "Non-synchronizing literal too large to skip (1001 octets)")])
        // Everything after is swallowed: the handler closes the connection.
        #expect(d.parser.hasPartialCommand)
    }

    @Test func literalSizesBeyond64BitsAreHandled() {
        // Synchronizing: refused without continuation; the client does not send it.
        let results = Driver.run(bytes("a LOGIN {99999999999999999999999}\r\nb NOOP\r\n"))
        #expect(results.count == 2)
        if case .tooBig(let tag, _) = results.first { #expect(tag == "a") } else { Issue.record("\(results)") }
        #expect(results.last == cmd("b", .noop))
        // Non-synchronizing: cannot be skipped.
        let fatal = Driver.run(bytes("a LOGIN {99999999999999999999999+}\r\nb NOOP\r\n"))
        #expect(fatal.count == 1)
        if case .fatal = fatal.first {} else { Issue.record("\(fatal)") }
    }

    @Test func overlongLineIsRejectedAndSkipped() {
        let config = IMAPCommandParser.Configuration(maxLineLength: 100)
        let long = "a SEARCH SUBJECT " + String(repeating: "x", count: 300) + "\r\nb NOOP\r\n"
        #expect(Driver.run(bytes(long), configuration: config)
            == [.error(tag: "a", message: "Command line too long (limit 100 octets)"), cmd("b", .noop)])
        // Exactly at the limit is fine.
        let exact = "a SEARCH SUBJECT " + String(repeating: "x", count: 100 - 17)
        #expect(parseOne(exact + "\r\n", configuration: config) == .search(SearchCommand(key: .subject(bytes(String(repeating: "x", count: 83)))), uid: false))
        #expect(Driver.run(bytes(exact + "y\r\nb NOOP\r\n"), configuration: config).first
            == .error(tag: "a", message: "Command line too long (limit 100 octets)"))
        // An overlong line that announces a non-synchronizing literal: the literal is skipped too.
        let withLiteral = "a SEARCH SUBJECT " + String(repeating: "x", count: 300) + " {10+}\r\n0123456789 tail\r\nb NOOP\r\n"
        #expect(Driver.run(bytes(withLiteral), configuration: config)
            == [.error(tag: "a", message: "Command line too long (limit 100 octets)"), cmd("b", .noop)])
        // Without a readable tag.
        #expect(Driver.run(bytes(String(repeating: "x", count: 300) + "\r\nb NOOP\r\n"), configuration: config)
            == [.error(tag: nil, message: "Command line too long (limit 100 octets)"), cmd("b", .noop)])
    }

    @Test func commandSizeIsBounded() {
        let config = IMAPCommandParser.Configuration(maxLineLength: 100, maxLiteralSize: 100, maxCommandSize: 400)
        var input = bytes("a SEARCH")
        for _ in 0..<10 { input += bytes(" SUBJECT {50+}\r\n") + [UInt8](repeating: 0x41, count: 50) }
        input += bytes("\r\nb NOOP\r\n")
        #expect(Driver.run(input, configuration: config) == [.tooBig(tag: "a", message: "Command too large (limit 400 octets)"), cmd("b", .noop)])
    }

    @Test func emptyLinesAndJunk() {
        #expect(Driver.run(bytes("\r\n\r\na NOOP\r\n")) == [
            .error(tag: nil, message: "Empty command line"), .error(tag: nil, message: "Empty command line"), cmd("a", .noop)])
        #expect(Driver.run(bytes("\u{0}\u{1}\u{2}\r\na NOOP\r\n")).last == cmd("a", .noop))
    }

    @Test func eightBitOutsideQuotedStringsIsRejected() {
        let results = Driver.run(bytes("a SELECT Entw\u{00FC}rfe\r\nb NOOP\r\n"))
        #expect(results.count == 2)
        #expect(errorMessage(results)?.contains("after SELECT arguments") == true)
    }
}

/// The replies a handler sends for each parse result.
@Suite struct ParseResultResponseTests {
    @Test func responses() {
        func text(_ r: PR) -> String {
            r.responses.map { String(decoding: IMAPEncoder().encode($0), as: UTF8.self) }.joined()
        }
        #expect(text(.needMoreBytes) == "")
        #expect(text(cmd("a", .noop)) == "")
        #expect(text(.needContinuation(literalSize: 5)) == "+ Ready for literal data\r\n")
        #expect(text(.error(tag: "a", message: "Unknown command FOO")) == "a BAD Unknown command FOO\r\n")
        #expect(text(.error(tag: nil, message: "Empty command line")) == "* BAD Empty command line\r\n")
        #expect(text(.tooBig(tag: "a", message: "Message too large")) == "a NO [TOOBIG] Message too large\r\n")
        #expect(text(.tooBig(tag: nil, message: "x")) == "* BAD [TOOBIG] x\r\n")
        #expect(text(.fatal(tag: "a", message: "Literal too large to skip")) == "a BAD [TOOBIG] Literal too large to skip\r\n* BYE Literal too large to skip\r\n")
        #expect(text(.fatal(tag: nil, message: "x")) == "* BYE x\r\n")
    }
}
