/// The generic syntax tree of RFC 5228 §8.2, before commands and tests are checked against
/// what each takes (SieveCompiler does that).
enum SieveArgument: Sendable {
    case strings([String], SievePosition)
    case number(Int, SievePosition)
    case tag(String, SievePosition)

    var position: SievePosition {
        switch self {
        case .strings(_, let p), .number(_, let p), .tag(_, let p): p
        }
    }
}

struct SieveTestNode: Sendable {
    var name: String
    var position: SievePosition
    var arguments: [SieveArgument]
    var tests: [SieveTestNode]
}

struct SieveCommandNode: Sendable {
    var name: String
    var position: SievePosition
    var arguments: [SieveArgument]
    var tests: [SieveTestNode]
    /// nil: the command ended with ";".
    var block: [SieveCommandNode]?
}

/// ```
/// ; RFC 5228 §8.2
/// commands     = *command
/// command      = identifier arguments (";" / block)
/// block        = "{" commands "}"
/// arguments    = *argument [ test / test-list ]
/// argument     = string-list / number / tag
/// string-list  = "[" string *("," string) "]" / string
/// test         = identifier arguments
/// test-list    = "(" test *("," test) ")"
/// ```
/// Nesting is bounded so that a hostile script cannot exhaust the stack.
struct SieveParser {
    static let maxDepth = 64

    private let tokens: [(SieveToken, SievePosition)]
    private var index = 0

    init(tokens: [(SieveToken, SievePosition)]) {
        self.tokens = tokens
    }

    private var token: SieveToken { tokens[index].0 }
    private var position: SievePosition { tokens[index].1 }

    private func error(_ message: String, at position: SievePosition? = nil) -> SieveError {
        let p = position ?? self.position
        return SieveError(line: p.line, column: p.column, message: message)
    }

    private var shown: String {
        switch token {
        case .identifier(let s): "\"\(s)\""
        case .tag(let s): "\":\(s)\""
        case .number(let n): "number \(n)"
        case .string: "a string"
        case .punctuation(let c): "\"\(Character(Unicode.Scalar(c)))\""
        case .end: "the end of the script"
        }
    }

    private func isPunctuation(_ c: Character) -> Bool {
        if case .punctuation(let p) = token, p == c.asciiValue { return true }
        return false
    }

    mutating func script() throws(SieveError) -> [SieveCommandNode] {
        let commands = try commands(depth: 0)
        guard case .end = token else {
            throw error(isPunctuation("}") ? "\"}\" without a matching \"{\"" : "expected a command, found \(shown)")
        }
        return commands
    }

    private mutating func commands(depth: Int) throws(SieveError) -> [SieveCommandNode] {
        guard depth < Self.maxDepth else { throw error("blocks nested too deeply") }
        var result: [SieveCommandNode] = []
        while case .identifier(let name) = token {
            let start = position
            index += 1
            let (arguments, tests) = try arguments(depth: depth)
            if isPunctuation(";") {
                index += 1
                result.append(SieveCommandNode(name: name, position: start, arguments: arguments, tests: tests, block: nil))
            } else if isPunctuation("{") {
                let open = position
                index += 1
                let block = try commands(depth: depth + 1)
                guard isPunctuation("}") else {
                    if case .end = token { throw error("\"{\" is never closed", at: open) }
                    throw error("expected a command or \"}\", found \(shown)")
                }
                index += 1
                result.append(SieveCommandNode(name: name, position: start, arguments: arguments, tests: tests, block: block))
            } else {
                throw error("expected \";\" after \(name), found \(shown)")
            }
        }
        return result
    }

    private mutating func arguments(depth: Int) throws(SieveError) -> ([SieveArgument], [SieveTestNode]) {
        var arguments: [SieveArgument] = []
        while true {
            let start = position
            switch token {
            case .string(let s):
                index += 1
                arguments.append(.strings([s], start))
            case .number(let n):
                index += 1
                arguments.append(.number(n, start))
            case .tag(let t):
                index += 1
                arguments.append(.tag(t, start))
            case .punctuation(UInt8(ascii: "[")):
                index += 1
                var list: [String] = []
                while true {
                    guard case .string(let s) = token else { throw error("expected a string in the list, found \(shown)") }
                    list.append(s)
                    index += 1
                    if isPunctuation(",") { index += 1; continue }
                    guard isPunctuation("]") else { throw error("expected \",\" or \"]\" in the string list, found \(shown)") }
                    index += 1
                    break
                }
                arguments.append(.strings(list, start))
            case .identifier:
                return (arguments, [try test(depth: depth + 1)])
            case .punctuation(UInt8(ascii: "(")):
                return (arguments, try testList(depth: depth + 1))
            default:
                return (arguments, [])
            }
        }
    }

    private mutating func test(depth: Int) throws(SieveError) -> SieveTestNode {
        guard depth < Self.maxDepth else { throw error("tests nested too deeply") }
        guard case .identifier(let name) = token else { throw error("expected a test, found \(shown)") }
        let start = position
        index += 1
        let (arguments, tests) = try arguments(depth: depth)
        return SieveTestNode(name: name, position: start, arguments: arguments, tests: tests)
    }

    private mutating func testList(depth: Int) throws(SieveError) -> [SieveTestNode] {
        index += 1
        var tests: [SieveTestNode] = []
        while true {
            tests.append(try test(depth: depth))
            if isPunctuation(",") { index += 1; continue }
            guard isPunctuation(")") else { throw error("expected \",\" or \")\" in the test list, found \(shown)") }
            index += 1
            return tests
        }
    }
}
