import Testing
@testable import IMAPProtocol

/// CHECK, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, STORE, COPY, MOVE (RFC 9051 §6.4, RFC 4315,
/// RFC 6851, RFC 7162 §3.1.3) and sequence sets (RFC 9051 §9, RFC 5182).
@Suite struct SelectedCommandTests {
    static let fixtures: [Fixture] = [
        Fixture("FXXZ CHECK\r\n", .check),
        Fixture("A341 CLOSE\r\n", .close),
        Fixture("a UNSELECT\r\n", .unselect),
        Fixture("A202 EXPUNGE\r\n", .expunge),
        Fixture("A202 UID EXPUNGE 3000:3002\r\n", .uidExpunge(SequenceSet([range(3000, 3002)]))),
        Fixture("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
                .store(SequenceSet([range(2, 4)]), unchangedSince: nil, StoreAction(operation: .add, flags: [.deleted]), uid: false)),
        Fixture("a UID STORE 1:3 +FLAGS.SILENT (\\Seen)\r\n",
                .store(SequenceSet([range(1, 3)]), unchangedSince: nil, StoreAction(operation: .add, silent: true, flags: [.seen]), uid: true)),
        Fixture("a UID STORE 5 -FLAGS (\\Seen $Junk)\r\n",
                .store(SequenceSet([one(5)]), unchangedSince: nil, StoreAction(operation: .remove, flags: [.seen, .junk]), uid: true)),
        Fixture("a STORE 1 FLAGS \\Seen \\Flagged\r\n",
                .store(SequenceSet([one(1)]), unchangedSince: nil, StoreAction(operation: .replace, flags: [.seen, .flagged]), uid: false)),
        Fixture("a STORE 1 FLAGS ()\r\n",
                .store(SequenceSet([one(1)]), unchangedSince: nil, StoreAction(operation: .replace, flags: []), uid: false)),
        Fixture("a STORE 1 -FLAGS.SILENT (\\seen \\ANSWERED \\Draft \\MyExt)\r\n",
                .store(SequenceSet([one(1)]), unchangedSince: nil,
                       StoreAction(operation: .remove, silent: true, flags: [.seen, .answered, .draft, .extension("MyExt")]), uid: false)),
        Fixture("10 uid store 4 +Flags ($Forwarded)\r\n",
                .store(SequenceSet([one(4)]), unchangedSince: nil, StoreAction(operation: .add, flags: [.forwarded]), uid: true)),
        Fixture("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
                .store(SequenceSet([one(6), one(4), one(8)]), unchangedSince: 12_121_230_045,
                       StoreAction(operation: .add, silent: true, flags: [.deleted]), uid: true)),
        Fixture("a STORE 1 (UNCHANGEDSINCE 0) FLAGS (x)\r\n",
                .store(SequenceSet([one(1)]), unchangedSince: 0, StoreAction(operation: .replace, flags: [.keyword("x")]), uid: false)),
        Fixture("A003 COPY 2:4 MEETING\r\n", .copy(SequenceSet([range(2, 4)]), "MEETING", uid: false)),
        Fixture("a UID COPY 1:3,7,9:* \"Deleted Items\"\r\n",
                .copy(SequenceSet([range(1, 3), one(7), toLast(9)]), "Deleted Items", uid: true)),
        Fixture("a UID MOVE 42 Archive\r\n", .move(SequenceSet([one(42)]), "Archive", uid: true)),
        Fixture("a MOVE 1:* Junk\r\n", .move(.all, "Junk", uid: false)),
        Fixture("a MOVE *:4 Junk\r\n", .move(SequenceSet([.range(from: .last, to: .number(4))]), "Junk", uid: false)),
        Fixture("A301 UID COPY $ Archive\r\n", .copy(.savedResult, "Archive", uid: true)),
        Fixture("a UID STORE 4294967295 +FLAGS (\\Seen)\r\n",
                .store(SequenceSet([one(4_294_967_295)]), unchangedSince: nil, StoreAction(operation: .add, flags: [.seen]), uid: true)),
    ]

    static let errors: [(String, String)] = [
        ("a STORE 1 FLAGS (\\*)\r\n", "\\* is not a flag"),
        ("a COPY 0 x\r\n", "sequence number must not be 0"),
        ("a COPY 4294967296 x\r\n", "too large"),
        ("a COPY 1: x\r\n", "expected sequence set"),
        ("a COPY 1,,2 x\r\n", "expected sequence set"),
        ("a COPY x y\r\n", "expected sequence set"),
        ("a STORE 1 BOGUS (\\Seen)\r\n", "expected FLAGS"),
        ("a STORE 1 +FLAGS\r\n", "expected SP"),
        ("a STORE 1 +FLAGS (\\Seen\r\n", "\")\" of flag list"),
        ("a STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)\r\n", "mod-sequence value"),
        ("a STORE 1 (FOO 1) FLAGS (\\Seen)\r\n", "unknown STORE modifier"),
        ("a UID EXPUNGE\r\n", "expected SP"),
        ("a EXPUNGE 1\r\n", "after EXPUNGE"),
        ("a MOVE 1\r\n", "expected SP"),
    ]

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    @Test(arguments: errors) func rejects(_ e: (String, String)) {
        let results = Driver.run(bytes(e.0 + "z NOOP\r\n"))
        #expect(results.count == 2, "\(results)")
        guard case .error(let tag, let message) = results.first else {
            Issue.record("expected an error, got \(results)")
            return
        }
        #expect(tag == "a")
        #expect(message.contains(e.1), "\(message)")
        #expect(results.last == cmd("z", .noop))
    }

    @Test func sequenceRangeLimit() {
        let config = IMAPCommandParser.Configuration(maxSequenceRanges: 10)
        let ten = (1...10).map(String.init).joined(separator: ",")
        let eleven = (1...11).map(String.init).joined(separator: ",")
        #expect(parseOne("a COPY \(ten) x\r\n", configuration: config) != nil)
        let results = Driver.run(bytes("a COPY \(eleven) x\r\n"), configuration: config)
        #expect(errorMessage(results)?.contains("more than 10 ranges") == true)
    }

    @Test func sequenceSetResolution() {
        let set = SequenceSet([range(5, 2), toLast(8), one(3), .savedResult])
        #expect(set.resolved(largest: 10) == [2...5, 8...10, 3...3])
        #expect(set.description == "5:2,8:*,3,$")
        #expect(SequenceSet(numbers: [7, 1, 2, 3, 5, 3, 6]).description == "1:3,5:7")
        #expect(SequenceSet(numbers: [UInt32]()).elements.isEmpty)
        #expect(SequenceSet(ranges: [1...4, 9...9]).description == "1:4,9")
        #expect(SequenceSet.savedResult.isSavedResult)
    }

    @Test func flagsFromText() {
        #expect(MessageFlag("\\SEEN") == .seen)
        #expect(MessageFlag("\\*") == .wildcard)
        #expect(MessageFlag("$Junk") == .junk)
        #expect(MessageFlag("\\Foo") == .extension("Foo"))
        #expect(MessageFlag("a b") == nil)
        #expect(MessageFlag("") == nil)
        #expect(MessageFlag("\\") == nil)
        #expect(MessageFlag.recent.description == "\\Recent")
    }
}
