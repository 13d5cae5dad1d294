/// What a line protocol's grammar tells `LineCommandParser`: its line ends, limits, replies
/// for refused lines, and how to parse one complete command line (pure, no framing).
public protocol LineGrammar: Sendable {
    associatedtype Command: Sendable & Hashable
    associatedtype Reply: Sendable & Hashable

    static var lineEnd: LineFramer.LineEnd { get }
    /// The smallest command line limit the protocol's RFC allows, line end included.
    static var minimumCommandLineLength: Int { get }
    static var defaultMaxCommandLineLength: Int { get }
    /// AUTH lines and SASL responses may be longer than commands (RFC 4954 §4: 12288).
    static var defaultMaxAuthLineLength: Int { get }
    /// The reply for a line the framer refused; `saslResponse` when it was a SASL response.
    static func reply(for error: LineFramer.LineError, saslResponse: Bool) -> Reply
    static var invalidBase64: Reply { get }
    /// Parses one complete line's content (without its line end).
    static func parseCommandLine(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> LineParseResult<Command, Reply>
}

/// The outcome of one `parse` call.
public enum LineParseResult<Command: Sendable & Hashable, Reply: Sendable & Hashable>: Sendable, Hashable {
    /// A complete, syntactically valid command.
    case command(Command)
    /// A refused line: send this reply and carry on with the next line.
    case error(Reply)
    /// No complete line yet.
    case needMoreBytes
}

/// The outcome of one `parseAuthResponse` call.
public enum SASLResponseParseResult<Reply: Sendable & Hashable>: Sendable, Hashable {
    /// The client's response, base64-decoded (may be empty).
    case response([UInt8])
    /// The client sent `*` (RFC 4422 §3.5): the exchange is cancelled.
    case cancel
    /// A refused line: send this reply; the exchange has failed.
    case error(Reply)
    /// No complete line yet.
    case needMoreBytes
}

/// A resumable, bounded parser of a line protocol's commands and of the SASL response lines
/// that follow a challenge: `LineFramer` for the bytes, the protocol's `LineGrammar` for the
/// words. SMTP/LMTP and POP3 (and ManageSieve's SASL lines) are this type with their grammar.
///
/// Buffer contract: every call returns how many bytes it `consumed`; the caller drops exactly
/// that many from the front of its buffer, whatever the result. One call returns at most one
/// command, so pipelined commands come out one by one.
///
/// With SwiftNIO: `let (result, n) = buffer.withUnsafeReadableBytes { parser.parse($0) }`
/// followed by `buffer.moveReaderIndex(forwardBy: n)`.
public struct LineCommandParser<Grammar: LineGrammar>: Sendable {
    public typealias ParseResult = LineParseResult<Grammar.Command, Grammar.Reply>
    public typealias AuthResponse = SASLResponseParseResult<Grammar.Reply>

    /// Limits, with the grammar's defaults.
    public struct Configuration: Sendable, Hashable {
        /// Longest command line, line end included.
        public var maxCommandLineLength: Int
        /// Longest `AUTH` line and SASL response line, line end included.
        public var maxAuthLineLength: Int

        public init(maxCommandLineLength: Int = Grammar.defaultMaxCommandLineLength,
                    maxAuthLineLength: Int = Grammar.defaultMaxAuthLineLength) {
            precondition(maxCommandLineLength >= Grammar.minimumCommandLineLength,
                         "command lines below the protocol's minimum of \(Grammar.minimumCommandLineLength) octets")
            precondition(maxAuthLineLength >= maxCommandLineLength)
            self.maxCommandLineLength = maxCommandLineLength
            self.maxAuthLineLength = maxAuthLineLength
        }
    }

    public let configuration: Configuration
    private var framer = LineFramer(lineEnd: Grammar.lineEnd)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// True while the parser is discarding the rest of an overlong line.
    public var isDiscardingOverlongLine: Bool { framer.isDiscardingOverlongLine }

    // MARK: Commands

    /// Parses at most one command line from the front of `bytes`. Drop `consumed` bytes.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> (result: ParseResult, consumed: Int) {
        let p = bytes.assumingMemoryBound(to: UInt8.self)
        // An AUTH line carries an initial response: it gets the SASL limit.
        let limit = p.hasUppercasedPrefix("AUTH ") ? configuration.maxAuthLineLength : configuration.maxCommandLineLength
        let (frame, consumed) = framer.frame(p, limit: limit)
        switch frame {
        case .needMoreBytes: return (.needMoreBytes, consumed)
        case .rejected(let error): return (.error(Grammar.reply(for: error, saslResponse: false)), consumed)
        case .line(let range): return (Grammar.parseCommandLine(p, range), consumed)
        }
    }

    public mutating func parse(_ bytes: ArraySlice<UInt8>) -> (result: ParseResult, consumed: Int) {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Parses at most one command line and removes the consumed bytes from `buffer`.
    public mutating func parse(_ buffer: inout [UInt8]) -> ParseResult {
        let (result, consumed) = buffer.withUnsafeBytes { parse($0) }
        buffer.removeFirst(consumed)
        return result
    }

    /// Parses one complete command line given without its line end (no framing, no length
    /// limit), for tests and callers that frame lines themselves.
    public static func parseLine(_ line: some Sequence<UInt8>) -> ParseResult {
        let bytes = Array(line)
        return bytes.withUnsafeBufferPointer { p in
            if p.contains(ASCIIByte.cr) { return .error(Grammar.reply(for: .bareCarriageReturn, saslResponse: false)) }
            if p.contains(ASCIIByte.lf) { return .error(Grammar.reply(for: .bareLineFeed, saslResponse: false)) }
            return Grammar.parseCommandLine(p, 0..<p.count)
        }
    }

    // MARK: SASL responses (RFC 4954 §4, RFC 5034 §4)

    /// Parses the client's response line after a challenge: base64, or `*` to cancel.
    public mutating func parseAuthResponse(_ bytes: UnsafeRawBufferPointer) -> (result: AuthResponse, consumed: Int) {
        let p = bytes.assumingMemoryBound(to: UInt8.self)
        let (frame, consumed) = framer.frame(p, limit: configuration.maxAuthLineLength)
        switch frame {
        case .needMoreBytes: return (.needMoreBytes, consumed)
        case .rejected(let error): return (.error(Grammar.reply(for: error, saslResponse: true)), consumed)
        case .line(let range):
            switch SASLResponseLine.parse(p, range) {
            case .response(let bytes): return (.response(bytes), consumed)
            case .cancel: return (.cancel, consumed)
            case .invalidBase64: return (.error(Grammar.invalidBase64), consumed)
            }
        }
    }

    public mutating func parseAuthResponse(_ bytes: ArraySlice<UInt8>) -> (result: AuthResponse, consumed: Int) {
        bytes.withUnsafeBytes { parseAuthResponse($0) }
    }

    /// Parses the client's response line and removes the consumed bytes from `buffer`.
    public mutating func parseAuthResponse(_ buffer: inout [UInt8]) -> AuthResponse {
        let (result, consumed) = buffer.withUnsafeBytes { parseAuthResponse($0) }
        buffer.removeFirst(consumed)
        return result
    }
}
