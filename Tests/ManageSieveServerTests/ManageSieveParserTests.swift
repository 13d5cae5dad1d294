@testable import ManageSieveServer
import Testing

@Suite("ManageSieve command lines")
struct ManageSieveParserTests {
    func parse(_ text: String, _ parser: ManageSieveParser = ManageSieveParser()) -> ManageSieveParse {
        Array(text.utf8).withUnsafeBytes { parser.parse($0) }
    }

    @Test func commandsStringsAndLiterals() {
        #expect(parse("CAPABILITY\r\n") == .line([.atom("CAPABILITY")], consumed: 12))
        #expect(parse("HAVESPACE \"a \\\"b\\\\\" 100\r\n") == .line([.atom("HAVESPACE"), .string(Array("a \"b\\".utf8)), .number(100)], consumed: 25))
        let put = "PUTSCRIPT \"x\" {5+}\r\nkeep;\r\n"
        #expect(parse(put) == .line([.atom("PUTSCRIPT"), .string(Array("x".utf8)), .string(Array("keep;".utf8))], consumed: put.utf8.count))
        #expect(parse("PUTSCRIPT \"x\" {5}\r\nkeep;\r\n") != .needMoreBytes)
    }

    @Test func incompleteInputWaits() {
        for partial in ["CAPA", "PUTSCRIPT \"x\" {5+}\r\nkee", "PUTSCRIPT \"x", "NOOP\r", "PUTSCRIPT \"x\" {5"] {
            #expect(parse(partial) == .needMoreBytes, "\(partial)")
        }
    }

    @Test func malformedLinesAreSkippedOrClosed() {
        #expect(parse("NOOP \"unterminated\r\nNOOP\r\n") == .error("unterminated quoted string", consumed: 20))
        #expect(parse("NOOP \"\\x\"\r\n") == .error("only \\\" and \\\\ may be escaped", consumed: 11))
        var small = ManageSieveParser()
        small.maxLiteral = 10
        #expect(parse("PUTSCRIPT \"x\" {11+}\r\n", small) == .error("literal larger than 10 bytes", consumed: 0))
        small.maxLine = 16
        #expect(parse(String(repeating: "A", count: 40), small) == .error("line too long", consumed: 0))
    }

    /// Random bytes never crash the parser and never claim more than they were given.
    @Test func randomInputIsBounded() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array("AZ \"\\{}+0123456789\r\nx".utf8)
        for _ in 0..<5000 {
            let bytes = (0..<Int(next() % 64)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            let result = bytes.withUnsafeBytes { ManageSieveParser().parse($0) }
            switch result {
            case .line(_, let consumed), .error(_, let consumed): #expect(consumed <= bytes.count)
            case .needMoreBytes: break
            }
        }
    }
}
