import LineFraming
/// A resumable, bounded parser of IMAP client input (RFC 9051 §2.2, §4.3, §7.5).
///
/// ## How a handler uses it
///
/// Feed it whatever bytes arrived; it returns one result and how many bytes it consumed. Keep the
/// unconsumed rest and call again (with the rest plus new bytes) until it says
/// ``ParseResult/needMoreBytes``, which it only says after consuming everything given:
///
/// - ``ParseResult/command(_:)``: a complete command; execute it. Bytes after it (pipelined
///   commands) are not consumed. After `STARTTLS`, any such bytes must fail the connection
///   (DESIGN.md §4); after `IDLE` / `AUTHENTICATE`, switch to ``parseIdleDone(_:)`` /
///   ``parseAuthenticateResponse(_:)``.
/// - ``ParseResult/needContinuation(literalSize:)``: the client announced a synchronizing literal
///   `{n}` and waits: send `+ Ready` (RFC 9051 §7.5). This is returned exactly once per literal;
///   the parser has moved on to reading its data.
/// - ``ParseResult/error(tag:message:)``: send `tag BAD message`, or `* BAD message` when no tag
///   could be read. The parser has already resynchronised: the rest of the command (through the
///   next CRLF outside any literal, including the data of non-synchronizing literals) is
///   discarded as it arrives.
/// - ``ParseResult/tooBig(tag:message:)``: a literal, APPEND message or command exceeds a limit:
///   send `tag NO [TOOBIG] message` (RFC 9051 §7.1, RFC 7889 §4). A synchronizing literal was not
///   acknowledged, so the client will not send it; a non-synchronizing one (`{n+}`) is read and
///   discarded (RFC 7888 §4).
/// - ``ParseResult/fatal(tag:message:)``: input that cannot be skipped safely (a non-synchronizing
///   literal larger than ``Configuration/maxDiscardedLiteralSize``, or a size that does not fit in
///   64 bits): send `tag BAD` (when there is a tag) and `* BYE message`, then close. The parser
///   then swallows all input.
///
/// ``ParseResult/responses`` gives exactly these replies for each result.
///
/// ## Design and complexity
///
/// The parser buffers one command at a time, up to ``Configuration/maxCommandSize`` (or
/// ``Configuration/maxAppendCommandSize`` for APPEND). A framing scanner looks at every byte once:
/// it tracks quoted strings so that `{n}` at the end of a line is recognised as a literal header
/// only outside quotes, copies literal data without looking at it, and finds the end of the
/// command (a line end outside any literal). The recursive-descent grammar (`CommandGrammar`) then
/// parses the complete command once. Before acknowledging a synchronizing literal the grammar also
/// validates the prefix received so far, so that an invalid command is rejected before the client
/// uploads a large literal; literal data is skipped in O(1) there, and this is done for at most
/// `maxPrevalidatedLiterals` literals per command, so the total work stays linear in the input.
///
/// Memory is bounded by the command size limits plus one partial auxiliary line.
public struct IMAPCommandParser: Sendable {
    /// Limits (DESIGN.md §4 "Bounded everything"), each with a documented default.
    public struct Configuration: Sendable, Hashable {
        /// Longest line outside literals, CRLF excluded (64 KiB). RFC 7162 §4 recommends clients
        /// stay under 8192 octets; real clients' UID sets stay far below this.
        public static let defaultMaxLineLength = 64 * 1024
        /// Largest literal that is not APPEND message data (64 KiB).
        public static let defaultMaxLiteralSize = 64 * 1024
        /// Largest non-APPEND command, all lines and literals together (1 MiB).
        public static let defaultMaxCommandSize = 1024 * 1024
        /// Largest APPEND message, the `APPENDLIMIT` (RFC 7889) we announce (64 MiB).
        public static let defaultMaxAppendMessageSize = 64 * 1024 * 1024
        /// Deepest nesting of search keys / section parts (32).
        public static let defaultMaxNestingDepth = 32
        /// Most ranges in one sequence set (16384).
        public static let defaultMaxSequenceRanges = 16_384
        /// LITERAL- (RFC 7888 §4) limit for non-synchronizing literals.
        public static let literalMinusLimit = 4096
        /// Largest rejected non-synchronizing literal we still read and discard (256 MiB); above,
        /// the connection must be closed.
        public static let defaultMaxDiscardedLiteralSize = 256 * 1024 * 1024

        public var maxLineLength: Int
        public var maxLiteralSize: Int
        public var maxCommandSize: Int
        public var maxAppendMessageSize: Int
        /// Largest APPEND command including all its messages (MULTIAPPEND, RFC 3502).
        public var maxAppendCommandSize: Int
        public var maxNestingDepth: Int
        public var maxSequenceRanges: Int
        /// `nil` when LITERAL+ is announced (non-synchronizing literals obey the normal limits);
        /// ``literalMinusLimit`` when only LITERAL- is.
        public var maxNonSynchronizingLiteralSize: Int?
        public var maxDiscardedLiteralSize: Int

        /// - Parameter maxAppendCommandSize: defaults to `maxAppendMessageSize + maxCommandSize`.
        public init(maxLineLength: Int = defaultMaxLineLength,
                    maxLiteralSize: Int = defaultMaxLiteralSize,
                    maxCommandSize: Int = defaultMaxCommandSize,
                    maxAppendMessageSize: Int = defaultMaxAppendMessageSize,
                    maxAppendCommandSize: Int? = nil,
                    maxNestingDepth: Int = defaultMaxNestingDepth,
                    maxSequenceRanges: Int = defaultMaxSequenceRanges,
                    maxNonSynchronizingLiteralSize: Int? = nil,
                    maxDiscardedLiteralSize: Int = defaultMaxDiscardedLiteralSize) {
            self.maxLineLength = max(64, maxLineLength)
            self.maxLiteralSize = max(0, maxLiteralSize)
            self.maxCommandSize = max(self.maxLineLength + 2, maxCommandSize)
            self.maxAppendMessageSize = max(0, maxAppendMessageSize)
            self.maxAppendCommandSize = max(self.maxCommandSize, maxAppendCommandSize ?? (maxAppendMessageSize + maxCommandSize))
            self.maxNestingDepth = max(1, maxNestingDepth)
            self.maxSequenceRanges = max(1, maxSequenceRanges)
            self.maxNonSynchronizingLiteralSize = maxNonSynchronizingLiteralSize
            self.maxDiscardedLiteralSize = max(0, maxDiscardedLiteralSize)
        }

        public static let `default` = Configuration()
    }

    /// What the handler must do next; see the type's documentation.
    public enum ParseResult: Sendable, Hashable {
        case command(TaggedCommand)
        case needContinuation(literalSize: Int)
        case needMoreBytes
        case error(tag: String?, message: String)
        case tooBig(tag: String?, message: String)
        case fatal(tag: String?, message: String)

        /// The replies the handler sends for this result, following the rules above: `+ Ready`
        /// for a continuation, `tag BAD` / `* BAD` for an error, `tag NO [TOOBIG]` for a size
        /// limit, `* BYE` before closing for a fatal error; none for a command or more bytes.
        public var responses: [IMAPResponse] {
            switch self {
            case .command, .needMoreBytes:
                return []
            case .needContinuation:
                return [.continuation("Ready for literal data")]
            case .error(let tag, let message):
                guard let tag else { return [.untagged(.condition(.bad, text: message))] }
                return [.bad(tag, nil, message)]
            case .tooBig(let tag, let message):
                guard let tag else { return [.untagged(.condition(.bad, code: .tooBig, text: message))] }
                return [.no(tag, .tooBig, message)]
            case .fatal(let tag, let message):
                var replies: [IMAPResponse] = []
                if let tag { replies.append(.bad(tag, .tooBig, message)) }
                replies.append(.untagged(.condition(.bye, text: message)))
                return replies
            }
        }
    }

    /// Result of ``parseIdleDone(_:)`` (RFC 2177, RFC 9051 §6.3.13).
    public enum IdleDoneResult: Sendable, Hashable {
        /// The client sent `DONE`: end IDLE and send the tagged OK.
        case done
        case needMoreBytes
        /// Anything else: send `tag BAD message` and leave IDLE.
        case error(message: String)
    }

    /// Result of ``parseAuthenticateResponse(_:)`` (RFC 9051 §6.2.2).
    public enum AuthenticateResponseResult: Sendable, Hashable {
        /// The decoded client response (an empty line is an empty response).
        case response([UInt8])
        /// `*`: the client cancelled; send `tag BAD` (RFC 9051 §6.2.2).
        case cancelled
        case needMoreBytes
        /// Not base64, or too long: send `tag BAD message` and end the exchange.
        case error(message: String)
    }

    /// How many synchronizing literals per command get their prefix validated before "+".
    static let maxPrevalidatedLiterals = 8
    /// Longest line accepted after IDLE (the `DONE` line).
    public static let maxIdleLineLength = 1024

    public let configuration: Configuration

    private enum Mode: Sendable {
        case line
        case literal(remaining: Int)
        case discardLine
        case discardLiteral(remaining: Int)
        case closed
    }

    /// What the framer learned from the first line of the command.
    private struct Header: Sendable {
        var tag: String
        var isAppend: Bool
        /// Buffer offset where APPEND's mailbox argument starts (a literal there is not a message).
        var argumentsStart: Int
    }

    /// Tracks whether the scanner is inside a quoted string (RFC 9051 §9 `quoted`).
    private struct QuoteState: Sendable {
        var inQuoted = false
        var escaped = false

        @inline(__always) mutating func feed(_ b: UInt8) {
            if inQuoted {
                if escaped { escaped = false } else if b == ASCII.backslash { escaped = true } else if b == ASCII.dquote { inQuoted = false }
            } else if b == ASCII.dquote {
                inQuoted = true
            }
        }
    }

    private var buffer: [UInt8] = []
    private var mode: Mode = .line
    private var lineStart = 0
    private var quote = QuoteState()
    private var header: Header?
    private var validatedLiterals = 0
    /// The last bytes of a line being discarded, to spot a literal header at its end.
    private var discardTail: [UInt8] = []

    private var auxLine: [UInt8] = []
    private var auxDiscarding = false

    public init(configuration: Configuration = .default) {
        self.configuration = configuration
    }

    /// Bytes currently held (partial command and partial auxiliary line), for limits checks.
    var bufferedByteCount: Int { buffer.count + auxLine.count + discardTail.count }

    /// `true` while a command has been started but not finished (bytes are buffered).
    public var hasPartialCommand: Bool {
        if case .line = mode { return !buffer.isEmpty }
        return true
    }

    // MARK: - Commands

    /// Consumes bytes of client input; see the type's documentation for the protocol.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> (result: ParseResult, consumed: Int) {
        var pos = 0
        while pos < input.count {
            switch mode {
            case .closed:
                return (.needMoreBytes, input.count)

            case .literal(let remaining):
                let n = min(remaining, input.count - pos)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[pos..<(pos + n)]))
                pos += n
                if n == remaining {
                    startLine()
                } else {
                    mode = .literal(remaining: remaining - n)
                }

            case .discardLiteral(let remaining):
                let n = min(remaining, input.count - pos)
                pos += n
                if n == remaining {
                    mode = .discardLine
                    quote = QuoteState()
                    discardTail.removeAll(keepingCapacity: true)
                } else {
                    mode = .discardLiteral(remaining: remaining - n)
                }

            case .discardLine:
                var j = pos
                while j < input.count, input[j] != ASCII.lf {
                    quote.feed(input[j])
                    j += 1
                }
                appendToTail(UnsafeRawBufferPointer(rebasing: input[pos..<j]))
                if j == input.count {
                    return (.needMoreBytes, input.count)
                }
                pos = j + 1
                if let result = finishDiscardedLine() { return (result, pos) }

            case .line:
                var j = pos
                var q = quote
                while j < input.count {
                    let b = input[j]
                    if b == ASCII.lf { break }
                    q.feed(b)
                    j += 1
                }
                let lineLength = buffer.count - lineStart + (j - pos)
                let sizeLimit = header?.isAppend == true ? configuration.maxAppendCommandSize : configuration.maxCommandSize
                // +1: the CR before LF does not count against the line length.
                let lineRoom = configuration.maxLineLength + 1 - (buffer.count - lineStart)
                if lineLength > configuration.maxLineLength + 1 || buffer.count + (j - pos) > sizeLimit {
                    let tooLongLine = lineLength > configuration.maxLineLength + 1
                    let keep = max(0, min(j - pos, lineRoom, sizeLimit - buffer.count))
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[pos..<(pos + keep)]))
                    let tag = currentTag()
                    // The tail must hold the line's last octets whatever the chunking was.
                    discardTail = Array(buffer[max(lineStart, buffer.count - 24)...])
                    appendToTail(UnsafeRawBufferPointer(rebasing: input[(pos + keep)..<j]))
                    resetCommand()
                    mode = .discardLine
                    quote = q
                    if tooLongLine {
                        return (.error(tag: tag, message: "Command line too long (limit \(configuration.maxLineLength) octets)"), j)
                    }
                    return (.tooBig(tag: tag, message: "Command too large (limit \(sizeLimit) octets)"), j)
                }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[pos..<j]))
                quote = q
                if j == input.count {
                    return (.needMoreBytes, input.count)
                }
                pos = j + 1
                if let result = lineEnded() { return (result, pos) }
            }
        }
        return (.needMoreBytes, pos)
    }

    /// Convenience for tests and callers holding an array.
    public mutating func parse(_ bytes: [UInt8]) -> (result: ParseResult, consumed: Int) {
        bytes.withUnsafeBytes { parse($0) }
    }

    private mutating func startLine() {
        mode = .line
        lineStart = buffer.count
        quote = QuoteState()
    }

    private mutating func resetCommand() {
        // Do not keep a large APPEND's capacity alive for the rest of the session.
        if buffer.capacity > 2 * configuration.maxLineLength {
            buffer = []
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
        header = nil
        lineStart = 0
        validatedLiterals = 0
        mode = .line
        quote = QuoteState()
    }

    /// The tag at the start of the buffered command, if one can be read (for error replies).
    private func currentTag() -> String? {
        if let header { return header.tag }
        var k = 0
        while k < buffer.count, ASCII.isTagChar(buffer[k]) { k += 1 }
        guard k > 0, k < buffer.count, buffer[k] == ASCII.space else { return nil }
        return String(decoding: buffer[0..<k], as: UTF8.self)
    }

    /// A literal header `~{n}` / `{n+}` ending the bytes `bytes[start..<end]`.
    private struct LiteralHeader {
        var size: UInt64  // UInt64.max when it does not fit
        var synchronizing: Bool
        var binary: Bool
        var headerStart: Int
    }

    private static func literalHeader<C: RandomAccessCollection<UInt8>>(in bytes: C, start: C.Index, end: C.Index) -> LiteralHeader?
    where C.Index == Int {
        // literal = "{" number64 ["+"] "}" CRLF ; literal8 = "~{" number64 ["+"] "}" CRLF
        var j = end - 1
        guard j >= start, bytes[j] == ASCII.rightBrace else { return nil }
        j -= 1
        var synchronizing = true
        if j >= start, bytes[j] == ASCII.plus {
            synchronizing = false
            j -= 1
        }
        let digitsEnd = j + 1
        while j >= start, ASCII.isDigit(bytes[j]) { j -= 1 }
        let digitsStart = j + 1
        guard digitsStart < digitsEnd, j >= start, bytes[j] == ASCII.leftBrace else { return nil }
        var size: UInt64 = 0
        for k in digitsStart..<digitsEnd {
            let (m, o1) = size.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[k] - ASCII.zero))
            if o1 || o2 { size = .max; break }
            size = a
        }
        let binary = j > start && bytes[j - 1] == ASCII.tilde
        return LiteralHeader(size: size, synchronizing: synchronizing, binary: binary, headerStart: binary ? j - 1 : j)
    }

    /// Reads `tag SP command-name [SP sub-command]` from the first line.
    ///
    /// ```
    /// command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
    /// ```
    private static let knownCommands: Set<String> = [
        "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ENABLE", "SELECT",
        "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB",
        "NAMESPACE", "STATUS", "APPEND", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH",
        "STORE", "COPY", "MOVE", "IDLE", "ID", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "UID", "SORT", "COMPRESS",
    ]
    private static let uidCommands: Set<String> = ["FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE", "SORT"]

    private func readHeader(contentEnd: Int) -> Result<Header, HeaderError> {
        var k = 0
        while k < contentEnd, ASCII.isTagChar(buffer[k]) { k += 1 }
        guard k > 0 else {
            return .failure(HeaderError(tag: nil, message: contentEnd == 0 ? "Empty command line" : "Missing or invalid tag"))
        }
        let tag = String(decoding: buffer[0..<k], as: UTF8.self)
        guard k < contentEnd, buffer[k] == ASCII.space else {
            return .failure(HeaderError(tag: k < contentEnd ? nil : tag, message: k < contentEnd ? "Invalid character in tag" : "Missing command"))
        }
        k += 1
        let nameStart = k
        while k < contentEnd, ASCII.isAtomChar(buffer[k]) { k += 1 }
        let name = ASCII.uppercased(buffer[nameStart..<k])
        guard !name.isEmpty else { return .failure(HeaderError(tag: tag, message: "Missing command")) }
        guard Self.knownCommands.contains(name) else {
            return .failure(HeaderError(tag: tag, message: "Unknown command \(CommandGrammar.printable(buffer[nameStart..<k]))"))
        }
        if name == "UID" {
            guard k < contentEnd, buffer[k] == ASCII.space else { return .failure(HeaderError(tag: tag, message: "UID: missing command")) }
            k += 1
            let subStart = k
            while k < contentEnd, ASCII.isAtomChar(buffer[k]) { k += 1 }
            let sub = ASCII.uppercased(buffer[subStart..<k])
            guard Self.uidCommands.contains(sub) else {
                return .failure(HeaderError(tag: tag, message: "Unknown UID command \(CommandGrammar.printable(buffer[subStart..<k]))"))
            }
        }
        let isAppend = name == "APPEND"
        return .success(Header(tag: tag, isAppend: isAppend, argumentsStart: k + 1))
    }

    private struct HeaderError: Error {
        var tag: String?
        var message: String
    }

    /// Handles the end of a line of the command being read; `nil` means "keep going".
    private mutating func lineEnded() -> ParseResult? {
        var contentEnd = buffer.count
        if contentEnd > lineStart, buffer[contentEnd - 1] == ASCII.cr { contentEnd -= 1 }
        if contentEnd - lineStart > configuration.maxLineLength {
            return rejectAtLineEnd(.error(tag: currentTag(), message: "Command line too long (limit \(configuration.maxLineLength) octets)"),
                                   contentEnd: contentEnd)
        }
        if header == nil {
            switch readHeader(contentEnd: contentEnd) {
            case .success(let h): header = h
            case .failure(let e): return rejectAtLineEnd(.error(tag: e.tag, message: e.message), contentEnd: contentEnd)
            }
        }
        let tag = header?.tag
        guard !quote.inQuoted, let literal = Self.literalHeader(in: buffer, start: lineStart, end: contentEnd) else {
            // The command is complete: parse it once.
            buffer.removeSubrange(contentEnd...)
            let result = parseComplete(tag: tag)
            resetCommand()
            return result
        }

        // A literal follows. Decide whether we accept it before anything else.
        let header = self.header!
        let isMessage = header.isAppend && literal.headerStart != header.argumentsStart
        let limit = isMessage ? configuration.maxAppendMessageSize : configuration.maxLiteralSize
        let sizeLimit = header.isAppend ? configuration.maxAppendCommandSize : configuration.maxCommandSize
        let total = UInt64(buffer.count + 1).addingReportingOverflow(literal.size)
        var rejection: ParseResult?
        if literal.size > UInt64(limit) {
            rejection = isMessage
                ? .tooBig(tag: tag, message: "Message too large (APPENDLIMIT \(limit) octets)")
                : .tooBig(tag: tag, message: "Literal too large (limit \(limit) octets)")
        } else if total.overflow || total.partialValue > UInt64(sizeLimit) {
            rejection = .tooBig(tag: tag, message: "Command too large (limit \(sizeLimit) octets)")
        } else if !literal.synchronizing, let nonSync = configuration.maxNonSynchronizingLiteralSize, literal.size > UInt64(nonSync) {
            // RFC 7888 §4: LITERAL- allows non-synchronizing literals only up to 4096 octets.
            rejection = .tooBig(tag: tag, message: "Non-synchronizing literal larger than \(nonSync) octets")
        } else if literal.binary && !isMessage {
            rejection = .error(tag: tag, message: "literal8 (~{n}) is only allowed for APPEND message data")
        } else if literal.synchronizing, validatedLiterals < Self.maxPrevalidatedLiterals {
            // Reject an invalid command before the client sends the literal (RFC 9051 §7.5).
            validatedLiterals += 1
            if let message = validatePrefix() {
                rejection = .error(tag: tag, message: message)
            }
        }
        if let rejection {
            return rejectAtLineEnd(rejection, contentEnd: contentEnd)
        }
        // The grammar expects the literal header's line end; validatePrefix() may have added it.
        if buffer.last != ASCII.lf { buffer.append(ASCII.lf) }
        let size = Int(literal.size)
        if size == 0 {
            startLine()
        } else {
            mode = .literal(remaining: size)
        }
        return literal.synchronizing ? .needContinuation(literalSize: size) : nil
    }

    /// Parses the complete buffered command. A separate function so that the grammar's reference
    /// to the buffer is gone before the buffer is reset (no copy-on-write of a large APPEND).
    private func parseComplete(tag: String?) -> ParseResult {
        var grammar = CommandGrammar(bytes: buffer, end: buffer.count, limits: configuration)
        do {
            return .command(try grammar.taggedCommand())
        } catch {
            return .error(tag: tag, message: Self.capitalized(error.message))
        }
    }

    /// Parses the command received so far, which ends with a literal header, without copying the
    /// buffer or literal data. Returns an error message when it is already invalid.
    private mutating func validatePrefix() -> String? {
        buffer.append(ASCII.lf)
        var grammar = CommandGrammar(bytes: buffer, end: buffer.count, limits: configuration, materialize: false)
        do {
            // Success is possible after a zero-length literal: the command may end there.
            _ = try grammar.taggedCommand()
        } catch where !error.incomplete && grammar.i < grammar.end {
            return Self.capitalized(error.message)
        } catch {
            // Stopped inside the literal's data or at the end of the prefix: valid so far.
        }
        return nil
    }

    /// Drops the command after an error found at the end of one of its lines. A synchronizing
    /// literal announced there will not be sent (the client sees our tagged reply instead of "+");
    /// a non-synchronizing one is on its way and is discarded, then the rest of the command.
    private mutating func rejectAtLineEnd(_ result: ParseResult, contentEnd: Int) -> ParseResult {
        let literal = quote.inQuoted ? nil : Self.literalHeader(in: buffer, start: lineStart, end: contentEnd)
        resetCommand()
        guard let literal, !literal.synchronizing else { return result }
        return discard(literalOf: literal.size, result: result)
    }

    private mutating func discard(literalOf size: UInt64, result: ParseResult) -> ParseResult {
        guard size <= UInt64(configuration.maxDiscardedLiteralSize) else {
            mode = .closed
            let tag: String?
            switch result {
            case .error(let t, _), .tooBig(let t, _), .fatal(let t, _): tag = t
            default: tag = nil
            }
            return .fatal(tag: tag, message: "Non-synchronizing literal too large to skip (\(size) octets)")
        }
        if size == 0 {
            mode = .discardLine
            quote = QuoteState()
            discardTail.removeAll(keepingCapacity: true)
        } else {
            mode = .discardLiteral(remaining: Int(size))
        }
        return result
    }

    private mutating func appendToTail(_ bytes: UnsafeRawBufferPointer) {
        // 24 octets hold "~{" + 20 digits + "+}".
        if bytes.count >= 24 {
            discardTail = Array(bytes[(bytes.count - 24)...])
        } else {
            discardTail.append(contentsOf: bytes)
            if discardTail.count > 48 { discardTail.removeFirst(discardTail.count - 24) }
        }
    }

    /// End of a discarded line: if it announced a non-synchronizing literal, skip that too.
    private mutating func finishDiscardedLine() -> ParseResult? {
        var end = discardTail.count
        if end > 0, discardTail[end - 1] == ASCII.cr { end -= 1 }
        let literal = quote.inQuoted ? nil : Self.literalHeader(in: discardTail, start: 0, end: end)
        discardTail.removeAll(keepingCapacity: true)
        quote = QuoteState()
        guard let literal, !literal.synchronizing else {
            mode = .line
            return nil
        }
        if literal.size > UInt64(configuration.maxDiscardedLiteralSize) {
            mode = .closed
            return .fatal(tag: nil, message: "Non-synchronizing literal too large to skip (\(literal.size) octets)")
        }
        if literal.size == 0 {
            mode = .discardLine
        } else {
            mode = .discardLiteral(remaining: Int(literal.size))
        }
        return nil
    }

    private static func capitalized(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst()
    }

    // MARK: - IDLE and AUTHENTICATE continuation lines

    /// Reads one CRLF-terminated line into `auxLine`, bounded by `limit`. Returns the line when
    /// complete, or an error message once when it is too long (the rest of it is then skipped).
    private mutating func readAuxLine(_ input: UnsafeRawBufferPointer, limit: Int) -> (line: [UInt8]?, error: String?, consumed: Int) {
        var j = 0
        while j < input.count, input[j] != ASCII.lf { j += 1 }
        if auxDiscarding {
            if j == input.count { return (nil, nil, j) }
            auxDiscarding = false
            return (nil, nil, j + 1)
        }
        if auxLine.count + j > limit + 1 {
            auxLine.removeAll()
            if j == input.count {
                auxDiscarding = true
                return (nil, "Line too long (limit \(limit) octets)", j)
            }
            return (nil, "Line too long (limit \(limit) octets)", j + 1)
        }
        auxLine.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<j]))
        if j == input.count { return (nil, nil, j) }
        var line = auxLine
        auxLine.removeAll(keepingCapacity: true)
        if line.last == ASCII.cr { line.removeLast() }
        if line.count > limit { return (nil, "Line too long (limit \(limit) octets)", j + 1) }
        return (line, nil, j + 1)
    }

    /// Parses the line that ends IDLE (RFC 2177 §3, RFC 9051 §6.3.13).
    ///
    /// ```
    /// idle = "IDLE" CRLF "DONE"
    /// ```
    public mutating func parseIdleDone(_ input: UnsafeRawBufferPointer) -> (result: IdleDoneResult, consumed: Int) {
        var consumed = 0
        while consumed < input.count {
            let (line, error, n) = readAuxLine(UnsafeRawBufferPointer(rebasing: input[consumed...]), limit: Self.maxIdleLineLength)
            consumed += n
            if let error { return (.error(message: error), consumed) }
            if let line {
                return ASCII.equalsKeyword(line, "DONE") ? (.done, consumed) : (.error(message: "Expected DONE"), consumed)
            }
        }
        return (.needMoreBytes, consumed)
    }

    public mutating func parseIdleDone(_ bytes: [UInt8]) -> (result: IdleDoneResult, consumed: Int) {
        bytes.withUnsafeBytes { parseIdleDone($0) }
    }

    /// Parses a client's answer to an AUTHENTICATE challenge (RFC 9051 §6.2.2).
    ///
    /// ```
    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] *(CRLF base64)
    /// ```
    /// A line `*` cancels the exchange.
    public mutating func parseAuthenticateResponse(_ input: UnsafeRawBufferPointer) -> (result: AuthenticateResponseResult, consumed: Int) {
        var consumed = 0
        while consumed < input.count {
            let (line, error, n) = readAuxLine(UnsafeRawBufferPointer(rebasing: input[consumed...]), limit: configuration.maxLineLength)
            consumed += n
            if let error { return (.error(message: error), consumed) }
            if let line {
                if line == [ASCII.star] { return (.cancelled, consumed) }
                guard let decoded = Base64.decode(line) else {
                    return (.error(message: "Invalid base64 in authentication response"), consumed)
                }
                return (.response(decoded), consumed)
            }
        }
        return (.needMoreBytes, consumed)
    }

    public mutating func parseAuthenticateResponse(_ bytes: [UInt8]) -> (result: AuthenticateResponseResult, consumed: Int) {
        bytes.withUnsafeBytes { parseAuthenticateResponse($0) }
    }
}
