import Testing
@testable import IMAPProtocol

/// Every fixture, fed byte by byte and in seeded random chunk sizes, gives exactly the results of
/// feeding it whole (DESIGN.md §5.9).
@Suite struct ChunkingTests {
    static var allFixtures: [Fixture] {
        ConnectionCommandTests.fixtures + MailboxCommandTests.fixtures + AppendCommandTests.fixtures
            + SelectedCommandTests.fixtures + FetchCommandTests.fixtures + SearchCommandTests.fixtures
            + extraInputs.map { Fixture(nil, bytes($0), Driver.run(bytes($0))) }
    }

    /// Inputs with errors, resynchronisation and pipelining, whose whole-input results are the reference.
    static let extraInputs: [String] = [
        "a NOOP\r\nb CAPABILITY\r\nc LOGOUT\r\n",
        "a FOO {10+}\r\nc LOGOUT\r\n more {3+}\r\nx\r\n rest\r\nb NOOP\r\n",
        "a FOO {10}\r\nb NOOP\r\n",
        "a SELECT \"foo {3}\r\nb NOOP\r\n",
        "\r\n\r\na NOOP\r\n",
        "a LOGIN {3+}\r\nabc {3+}\r\ndef extra\r\nb NOOP\r\n",
        "a SELECT INBOX {5}\r\nb NOOP\r\n",
        "a LOGIN {0}\r\n {0+}\r\n\r\nb LOGIN x {0}\r\n\r\n",
        "a LOGIN {99999999999999999999999}\r\nb NOOP\r\n",
        "a SEARCH " + String(repeating: "NOT ", count: 40) + "SEEN\r\nb NOOP\r\n",
        "a SEARCH SUBJECT " + String(repeating: "x", count: 70_000) + " {10+}\r\n0123456789 tail\r\nb NOOP\r\n",
        "a LOGIN {70000}\r\nb NOOP\r\n",
        "a LOGIN {70000+}\r\n" + String(repeating: "y", count: 70_000) + " z\r\nb NOOP\r\n",
    ]

    @Test func fixturesAreDistinct() {
        #expect(Self.allFixtures.count > 150)
    }

    @Test(arguments: allFixtures) func byteByByte(_ f: Fixture) {
        let whole = Driver.run(f.input, .whole, configuration: f.configuration)
        #expect(whole == f.expected)
        #expect(Driver.run(f.input, .byteByByte, configuration: f.configuration) == whole)
    }

    @Test(arguments: allFixtures) func randomChunks(_ f: Fixture) {
        let whole = Driver.run(f.input, .whole, configuration: f.configuration)
        for seed in UInt64(1)...8 {
            let chunking = Chunking.random(seed: seed &* 7919 &+ UInt64(f.input.count), maxChunk: seed < 5 ? 7 : 300)
            #expect(Driver.run(f.input, chunking, configuration: f.configuration) == whole, "\(chunking)")
        }
    }

    /// All fixtures back to back in one stream, as a pipelining client would send them (each with
    /// its own continuations), split at random.
    @Test func everythingInOneStream() {
        let fixtures = Self.allFixtures.filter { $0.configuration == .default }
        let stream = fixtures.flatMap(\.input)
        let expected = fixtures.flatMap(\.expected)
        #expect(Driver.run(stream, .whole) == expected)
        #expect(Driver.run(stream, .random(seed: 42, maxChunk: 64)) == expected)
        #expect(Driver.run(stream, .random(seed: 43, maxChunk: 4096)) == expected)
    }
}
