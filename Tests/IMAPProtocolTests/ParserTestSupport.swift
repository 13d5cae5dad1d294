import Testing
@testable import IMAPProtocol
@_exported import TestSupport

typealias PR = IMAPCommandParser.ParseResult

extension Array where Element == UInt8 {
    init(_ s: String) { self = Array(s.utf8) }
}

extension Chunking {
    /// The sizes of the chunks `count` bytes are cut into.
    func split(_ count: Int) -> [Int] { split([UInt8](repeating: 0, count: count)).map(\.count) }
}

/// Simulates the NIO handler: keeps unconsumed bytes, appends each chunk, and calls the parser
/// until it asks for more. Checks the parser's contract on every call.
struct Driver {
    var parser: IMAPCommandParser
    var pending: [UInt8] = []
    var results: [PR] = []
    var calls = 0

    init(configuration: IMAPCommandParser.Configuration = .default) {
        parser = IMAPCommandParser(configuration: configuration)
    }

    mutating func feed(_ chunk: [UInt8]) {
        pending += chunk
        while true {
            calls += 1
            let (result, consumed) = pending.withUnsafeBytes { parser.parse($0) }
            #expect(consumed >= 0 && consumed <= pending.count, "consumed \(consumed) of \(pending.count)")
            if result == .needMoreBytes {
                #expect(consumed == pending.count, "needMoreBytes must consume everything")
                pending.removeAll()
                return
            }
            #expect(consumed >= 1, "a result must consume at least one byte")
            pending.removeFirst(max(0, min(consumed, pending.count)))
            results.append(result)
            if consumed == 0 { return } // avoid spinning on a contract violation
        }
    }

    static func run(_ input: [UInt8], _ chunking: Chunking = .whole,
                    configuration: IMAPCommandParser.Configuration = .default) -> [PR] {
        var d = Driver(configuration: configuration)
        var offset = 0
        for n in chunking.split(input.count) {
            d.feed(Array(input[offset..<(offset + n)]))
            offset += n
        }
        return d.results
    }
}

/// A parser fixture: input bytes and the results a handler must see.
struct Fixture: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let expected: [PR]
    let configuration: IMAPCommandParser.Configuration

    init(_ name: String? = nil, _ input: [UInt8], _ expected: [PR], configuration: IMAPCommandParser.Configuration = .default) {
        self.name = name ?? Fixture.label(input)
        self.input = input
        self.expected = expected
        self.configuration = configuration
    }

    /// A single command without literals: the tag is read from the input.
    init(_ input: String, _ command: IMAPCommand) {
        let tag = String(input.prefix { $0 != " " })
        self.init(nil, Array(input.utf8), [.command(TaggedCommand(tag: tag, command: command))])
    }

    init(_ input: String, _ expected: [PR], configuration: IMAPCommandParser.Configuration = .default) {
        self.init(nil, Array(input.utf8), expected, configuration: configuration)
    }

    static func label(_ input: [UInt8]) -> String {
        var s = ""
        for b in input.prefix(70) {
            switch b {
            case 0x0D: s += "\\r"
            case 0x0A: s += "\\n"
            case 0x20..<0x7F: s.append(Character(UnicodeScalar(b)))
            default: s += "."
            }
        }
        return input.count > 70 ? s + "..." : s
    }

    var testDescription: String { name }
}

func cmd(_ tag: String, _ command: IMAPCommand) -> PR {
    .command(TaggedCommand(tag: tag, command: command))
}

/// Runs a fixture fed whole and checks the results.
func check(_ f: Fixture, sourceLocation: SourceLocation = #_sourceLocation) {
    let results = Driver.run(f.input, .whole, configuration: f.configuration)
    #expect(results == f.expected, sourceLocation: sourceLocation)
}

/// Parses one complete command (fed whole) and returns it, failing the test otherwise.
func parseOne(_ s: String, configuration: IMAPCommandParser.Configuration = .default,
              sourceLocation: SourceLocation = #_sourceLocation) -> IMAPCommand? {
    let results = Driver.run(bytes(s), .whole, configuration: configuration)
    for r in results {
        if case .command(let c) = r { return c.command }
    }
    Issue.record("no command parsed from \(Fixture.label(bytes(s))): \(results)", sourceLocation: sourceLocation)
    return nil
}

/// The error message of the first error result, if any.
func errorMessage(_ results: [PR]) -> String? {
    for r in results {
        switch r {
        case .error(_, let m), .tooBig(_, let m), .fatal(_, let m): return m
        default: continue
        }
    }
    return nil
}

func mb(_ s: String) -> IMAPMailboxName { IMAPMailboxName(s) }

func range(_ a: UInt32, _ b: UInt32) -> SequenceSet.Element { .range(from: .number(a), to: .number(b)) }
func one(_ a: UInt32) -> SequenceSet.Element { .single(a) }
func toLast(_ a: UInt32) -> SequenceSet.Element { .range(from: .number(a), to: .last) }
