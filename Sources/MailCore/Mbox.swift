import Foundation

// The mbox format, RFC 4155 ("The application/mbox Media Type"), with the "mboxrd" quoting
// variant (the one Dovecot, mutt and Python's mailbox module can all read losslessly).
//
// An mbox file is a sequence of messages, each introduced by a "From_" line:
//
//     From_line = "From " sender SP timestamp LF       ; RFC 4155 §2 (asctime(3) timestamp)
//     mbox      = *(From_line message LF)               ; LF-terminated, one blank line between
//
// RFC 4155 leaves the quoting of body lines that look like a From_ line to the writer. In
// "mboxo" only "From " gets a ">", which makes ">From " in a body ambiguous; "mboxrd" quotes any
// line matching /^>*From / by adding one ">", and the reader removes one ">" from any line
// matching /^>+From /. That makes writing and reading exact inverses, which `swallow export`
// after `swallow import` relies on.

/// One message of an mbox file.
///
/// `bytes` is the message as it appears in the file after un-quoting: LF line endings (convert
/// with `LineEndings.toCRLF` for storage), without the From_ line and without the blank line
/// that separates it from the next message.
public struct MboxMessage: Sendable, Hashable {
    /// The envelope sender from the From_ line (RFC 4155 §2), e.g. the return path. `""` when the
    /// From_ line had none; the writer uses `Mbox.defaultSender` in that case.
    public var envelopeSender: String
    /// The timestamp from the From_ line (when the message was delivered into the mbox), or `nil`
    /// when it did not parse. Whole seconds: asctime has no finer resolution.
    public var date: Date?
    /// The message as LF text, un-quoted.
    public var bytes: [UInt8]

    public init(envelopeSender: String = Mbox.defaultSender, date: Date? = nil, bytes: [UInt8]) {
        self.envelopeSender = envelopeSender
        self.date = date
        self.bytes = bytes
    }
}

/// Why an mbox file could not be read.
public enum MboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file does not start with a From_ line (RFC 4155 §2 requires one first), so it is not
    /// an mbox file. `line` is the offending line's number (1-based): always 1 today.
    case notMbox(line: Int)
    /// A message (or a single line) grew beyond the parser's `maximumMessageSize` at this line.
    case messageTooLarge(line: Int, limit: Int)

    public var description: String {
        switch self {
        case .notMbox(let line):
            return "not an mbox file: line \(line) does not start with \"From \""
        case .messageTooLarge(let line, let limit):
            return "mbox message larger than \(limit) bytes at line \(line)"
        }
    }
}

/// Reading and writing mbox files (RFC 4155, mboxrd quoting).
///
/// Round trip: `Mbox.parse(Mbox.write(m)) == [m]` for every message whose `bytes` are empty or
/// end with LF, whose `date` is whole seconds and whose `envelopeSender` is non-empty without
/// whitespace or control characters. A message whose bytes do not end with LF comes back with
/// one LF appended: every line of an mbox is LF-terminated (RFC 4155 §2), so the writer adds
/// it, and the reader cannot tell it from an LF that was there before.
public enum Mbox: Sendable {
    /// The sender written when a message has none: the conventional null-sender name used for
    /// bounces (RFC 4155 §2 leaves the choice to the writer; every MTA uses this one).
    public static let defaultSender = "MAILER-DAEMON"

    /// Parses a whole mbox file held in memory.
    ///
    /// Messages are copied out of `data` once; `data` itself is not copied, even for a CRLF file
    /// (its line endings are converted line by line). An empty file has zero messages.
    /// For large files, feed an `MboxParser` chunk by chunk instead.
    public static func parse(
        _ data: [UInt8], maximumMessageSize: Int = MboxParser.defaultMaximumMessageSize
    ) throws(MboxError) -> [MboxMessage] {
        var parser = MboxParser(maximumMessageSize: maximumMessageSize)
        var messages = try parser.feed(data)
        messages += try parser.finish()
        return messages
    }

    /// Encodes one message as it appears in an mbox file: From_ line, body with mboxrd quoting,
    /// a final LF if the body lacks one, and the blank separator line.
    ///
    /// - Parameter dateIfMissing: the From_ timestamp when `message.date` is `nil`. RFC 4155 §2
    ///   requires one; like Postfix's local(8) delivering to an mbox, the default is "now", the
    ///   time the message is written into this mbox.
    public static func write(_ message: MboxMessage, dateIfMissing: Date = Date()) -> [UInt8] {
        var output: [UInt8] = []
        write(message, into: &output, dateIfMissing: dateIfMissing)
        return output
    }

    /// Appends one message in mbox form to `output` (see `write(_:dateIfMissing:)`), so an export
    /// can build a file without an intermediate array per message.
    public static func write(_ message: MboxMessage, into output: inout [UInt8], dateIfMissing: Date = Date()) {
        // Reserve room for the body, some quoting and the From_ line, but keep growth geometric:
        // reserving exactly what each call needs would reallocate (and copy the whole file so
        // far) on every message of an export.
        let needed = output.count + message.bytes.count + message.bytes.count / 64 + 80
        if output.capacity < needed { output.reserveCapacity(max(needed, output.capacity * 2)) }
        output.append(contentsOf: fromPrefix)
        output.append(contentsOf: fromLineSender(message.envelopeSender))
        output.append(space)
        output.append(contentsOf: AsctimeDate.format(message.date ?? dateIfMissing).utf8)
        output.append(lf)
        message.bytes.withUnsafeBufferPointer { body in
            let count = body.count
            var lineStart = 0
            while lineStart < count {
                // mboxrd: /^>*From / gains one ">" so that the reader's /^>+From / rule restores it.
                if lineNeedsQuoting(body, at: lineStart) { output.append(greaterThan) }
                // The LF belongs to the line.
                let lineEnd = MboxParser.indexOfLF(body, from: lineStart).map { $0 + 1 } ?? count
                output.append(contentsOf: UnsafeBufferPointer(rebasing: body[lineStart..<lineEnd]))
                lineStart = lineEnd
            }
            // Every line of an mbox ends with LF, and the message ends before the blank line.
            if count > 0 && body[count - 1] != lf { output.append(lf) }
        }
        // RFC 4155 §2: the blank line that separates this message from the next From_ line.
        output.append(lf)
    }

    /// Reads a From_ line (`From sender date`, RFC 4155 §2) leniently.
    ///
    /// Returns `nil` when `line` does not start with "From ". The date is found as the first
    /// "weekday month" token pair after the sender (so a sender containing spaces survives),
    /// and may carry a numeric or named zone or a UUCP "remote from host" tail; when no date
    /// parses, the first token is the sender and the date is `nil`.
    public static func parseFromLine(_ line: some StringProtocol) -> (sender: String, date: Date?)? {
        let line = String(line)
        guard line.hasPrefix("From ") else { return nil }
        let tokens = line.dropFirst(5).split(whereSeparator: { $0 == " " || $0 == "\t" })
        if tokens.isEmpty { return ("", nil) }
        // Start at 1: the first token is the sender even when it reads like a weekday.
        for start in 1..<max(1, tokens.count) where AsctimeDate.isDateStart(tokens, at: start) {
            if let date = AsctimeDate.parse(tokens: tokens[start...]) {
                return (tokens[..<start].joined(separator: " "), date)
            }
        }
        // A From_ line with no sender at all ("From Sun Nov 29 ...").
        if AsctimeDate.isDateStart(tokens, at: 0), let date = AsctimeDate.parse(tokens: tokens[...]) {
            return ("", date)
        }
        return (String(tokens[0]), nil)
    }

    // MARK: - Byte helpers shared with MboxParser

    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let greaterThan: UInt8 = 0x3E
    static let fromPrefix: [UInt8] = Array("From ".utf8)

    /// Whether the bytes at `start` begin with "From ".
    static func hasFromPrefix(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard bytes.count - start >= 5 else { return false }
        return bytes[start] == 0x46 && bytes[start + 1] == 0x72 && bytes[start + 2] == 0x6F
            && bytes[start + 3] == 0x6D && bytes[start + 4] == 0x20
    }

    /// mboxrd writer rule: the line at `start` matches /^>*From /.
    private static func lineNeedsQuoting(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        var index = start
        while index < bytes.count && bytes[index] == greaterThan { index += 1 }
        return hasFromPrefix(bytes, at: index)
    }

    /// The sender as written on the From_ line. RFC 4155 §2 has it as one token (an addr-spec),
    /// so whitespace and control characters, which would break the line or shift the date, are
    /// replaced by "_"; an empty sender becomes `defaultSender`.
    private static func fromLineSender(_ sender: String) -> [UInt8] {
        if sender.isEmpty { return Array(defaultSender.utf8) }
        return sender.utf8.map { $0 <= space || $0 == 0x7F ? 0x5F : $0 }
    }
}

/// An incremental mbox reader (RFC 4155, mboxrd un-quoting) for files too large to hold whole.
///
/// Feed it the file in chunks of any size; each call returns the messages completed so far.
/// Call `finish()` at end of file for the last one. Only the current message and at most one
/// incomplete line are buffered.
///
/// Rules, in the order they apply to each line:
/// - The first line must start with "From ", otherwise `MboxError.notMbox(line: 1)`. The check
///   is made as soon as five bytes have arrived, so a large non-mbox file fails fast.
/// - If the first line ends in CRLF, the file is taken to be an mbox with CRLF line endings
///   (e.g. one copied from Windows): every CRLF then counts as one LF, as `LineEndings.toLF`
///   would convert it. Otherwise bytes are kept exactly, including any CR.
/// - A line starting with "From " that starts the file or follows an empty line starts a new
///   message. This is deliberately lenient: the rest of the line is parsed for sender and date,
///   but a From_ line whose date does not parse is still a separator (`date == nil`), because
///   real files contain dates in many shapes and a mboxrd writer never leaves an unquoted
///   "From " line in a body. The price: a non-mboxrd file with an unquoted "From " line after
///   an empty line in a body (mboxcl style) is split there. A "From " line that does not
///   follow an empty line is body text.
/// - The empty line just before a From_ line, and one at the end of the file, is the separator
///   the writer added (RFC 4155 §2) and is not part of the message; any further empty lines are.
/// - A line matching /^>+From / loses one ">" (mboxrd).
public struct MboxParser: Sendable {
    /// Largest message (or single line) accepted, in bytes (DESIGN.md §4 "bounded everything").
    /// Generous, because an import brings in years of mail that was accepted once already.
    public static let defaultMaximumMessageSize = 256 * 1024 * 1024

    public let maximumMessageSize: Int

    /// Bytes of a line whose LF has not arrived yet.
    private var carry: [UInt8] = []
    /// Number of lines processed so far (the next one is `linesSeen + 1`).
    private var linesSeen = 0
    /// Decided by the first line: treat CRLF as the line terminator.
    private var crlf = false
    private var inMessage = false
    private var sender = ""
    private var date: Date? = nil
    private var body: [UInt8] = []
    /// An empty line was seen and not yet added to `body`: it is the separator if a From_ line
    /// follows (or the file ends), and body text otherwise.
    private var pendingBlank = false

    public init(maximumMessageSize: Int = MboxParser.defaultMaximumMessageSize) {
        self.maximumMessageSize = maximumMessageSize
    }

    /// Consumes the next chunk of the file and returns the messages it completed.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(MboxError) -> [MboxMessage] {
        var completed: [MboxMessage] = []
        let result: Result<Void, MboxError>? = chunk.withContiguousStorageIfAvailable { buffer in
            Result { () throws(MboxError) in try self.consume(buffer, into: &completed) }
        }
        guard let result else { return try feed(Array(chunk)) }
        try result.get()
        return completed
    }

    /// Ends the input: processes a last line without LF and returns the final message, if any.
    /// The parser is reset afterwards and can read another file.
    public mutating func finish() throws(MboxError) -> [MboxMessage] {
        var completed: [MboxMessage] = []
        if !carry.isEmpty {
            let line = carry
            carry = []
            // An unterminated last line is kept byte for byte (a trailing lone CR included),
            // exactly as `LineEndings.toLF` would leave it.
            let result = line.withUnsafeBufferPointer { buffer in
                Result { () throws(MboxError) in try self.process(buffer, terminated: false, into: &completed) }
            }
            try result.get()
        }
        // A blank line still pending here is the separator after the last message.
        if inMessage { completed.append(takeMessage()) }
        self = MboxParser(maximumMessageSize: maximumMessageSize)
        return completed
    }

    private mutating func consume(_ buffer: UnsafeBufferPointer<UInt8>, into completed: inout [MboxMessage]) throws(MboxError) {
        let count = buffer.count
        var lineStart = 0
        while lineStart < count, let lfIndex = Self.indexOfLF(buffer, from: lineStart) {
            let segment = UnsafeBufferPointer(rebasing: buffer[lineStart..<lfIndex])
            if carry.isEmpty {
                try terminatedLine(segment, into: &completed)
            } else {
                // Move the carried bytes out of `self` so the line can be read while `self` is
                // mutated; the buffer's capacity goes back into `carry` for the next long line.
                var line = carry
                carry = []
                line.append(contentsOf: segment)
                try checkSize(line.count, line: linesSeen + 1)
                let result = line.withUnsafeBufferPointer { joined in
                    Result { () throws(MboxError) in try self.terminatedLine(joined, into: &completed) }
                }
                try result.get()
                line.removeAll(keepingCapacity: true)
                carry = line
            }
            lineStart = lfIndex + 1
        }
        if lineStart < count {
            carry.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[lineStart..<count]))
            try checkSize(carry.count, line: linesSeen + 1)
            if linesSeen == 0 {
                // Fail fast on a file that cannot be an mbox rather than buffering it to the
                // first LF (a binary file may have none).
                let prefix = Mbox.fromPrefix
                for index in 0..<min(prefix.count, carry.count) where carry[index] != prefix[index] {
                    throw .notMbox(line: 1)
                }
            }
        }
    }

    /// A complete line, without its LF.
    private mutating func terminatedLine(_ raw: UnsafeBufferPointer<UInt8>, into completed: inout [MboxMessage]) throws(MboxError) {
        var line = raw
        if linesSeen == 0 { crlf = line.last == Mbox.cr }
        if crlf, line.last == Mbox.cr { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        try process(line, terminated: true, into: &completed)
    }

    private mutating func process(
        _ line: UnsafeBufferPointer<UInt8>, terminated: Bool, into completed: inout [MboxMessage]
    ) throws(MboxError) {
        linesSeen += 1
        let isFromLine = Mbox.hasFromPrefix(line, at: 0)
        guard inMessage else {
            // RFC 4155 §2: an mbox starts with a From_ line.
            guard isFromLine else { throw .notMbox(line: linesSeen) }
            startMessage(fromLine: line)
            return
        }
        if line.isEmpty && terminated {
            // Two empty lines in a row: the first one was body text after all.
            if pendingBlank { body.append(Mbox.lf) }
            pendingBlank = true
            return
        }
        if pendingBlank && isFromLine {
            completed.append(takeMessage())
            startMessage(fromLine: line)
            return
        }
        if pendingBlank {
            body.append(Mbox.lf)
            pendingBlank = false
        }
        // mboxrd reader rule: /^>+From / loses one ">".
        var start = 0
        while start < line.count && line[start] == Mbox.greaterThan { start += 1 }
        let quoted = start > 0 && Mbox.hasFromPrefix(line, at: start)
        body.append(contentsOf: quoted ? UnsafeBufferPointer(rebasing: line[1...]) : line)
        if terminated { body.append(Mbox.lf) }
        try checkSize(body.count, line: linesSeen)
    }

    private mutating func startMessage(fromLine line: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: line, as: UTF8.self)
        let envelope = Mbox.parseFromLine(text) ?? ("", nil)
        inMessage = true
        sender = envelope.sender
        date = envelope.date
        body = []
        pendingBlank = false
    }

    private mutating func takeMessage() -> MboxMessage {
        let message = MboxMessage(envelopeSender: sender, date: date, bytes: body)
        body = []
        pendingBlank = false
        inMessage = false
        return message
    }

    private func checkSize(_ size: Int, line: Int) throws(MboxError) {
        if size > maximumMessageSize {
            throw .messageTooLarge(line: line, limit: maximumMessageSize)
        }
    }

    static func indexOfLF(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = buffer.baseAddress, start < buffer.count else { return nil }
        // memchr is vectorised in libc; a byte loop is several times slower on large imports.
        guard let found = memchr(base + start, Int32(Mbox.lf), buffer.count - start) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}

/// The asctime(3) timestamp of mbox From_ lines (RFC 4155 §2), e.g. `Sun Nov 29 12:00:00 2026`.
///
/// Written in UTC with the day of month padded with a space (`Thu Jan  1 00:00:00 1970`), as
/// asctime(3) and Dovecot do. Parsing is lenient about what real files contain:
/// - an optional leading weekday (not checked against the date),
/// - seconds optional (`12:00`),
/// - a zone before or after the year: numeric (`+0100`) or a name (`UTC`, `PST`, ...;
///   RFC 5322 §4.3 obs-zone values, other names count as UTC, which is also how a zoneless
///   asctime stamp is read),
/// - two- and three-digit years (RFC 5322 §4.3 obs-year: 00-49 are 20xx, 50-999 add 1900),
/// - anything after the year and zone, such as UUCP's `remote from host`.
///
/// Calendar arithmetic is done here (proleptic Gregorian, days-from-civil) rather than through
/// DateFormatter or Calendar, which depend on locale data and are slow.
public enum AsctimeDate: Sendable {
    /// Formats `date` (UTC, whole seconds, fractions truncated). Years outside 1...9999 are
    /// clamped, since four digits is what every reader expects.
    public static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        let seconds: Int64
        if interval.isNaN {
            seconds = 0
        } else {
            seconds = Int64(min(max(interval.rounded(.down), Double(minimumSeconds)), Double(maximumSeconds)))
        }
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let civil = civilFromDays(days)
        // 1970-01-01 (day 0) was a Thursday.
        let weekday = Int(floorModulo(days + 4, 7))
        let day = civil.day < 10 ? " \(civil.day)" : "\(civil.day)"
        return "\(weekdayNames[weekday]) \(monthNames[civil.month - 1]) \(day) "
            + "\(twoDigits(secondOfDay / 3600)):\(twoDigits(secondOfDay / 60 % 60)):\(twoDigits(secondOfDay % 60)) "
            + "\(civil.year)"
    }

    /// Parses an asctime timestamp with the tolerances listed on the type. `nil` when it does
    /// not parse or names an impossible date (Feb 30, hour 24).
    public static func parse(_ text: some StringProtocol) -> Date? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return parse(tokens: tokens.map { Substring($0) }[...])
    }

    /// Parses from already split tokens: `[weekday] month day time [zone] year [zone] [...]`.
    static func parse(tokens: ArraySlice<Substring>) -> Date? {
        var index = tokens.startIndex
        let end = tokens.endIndex
        if index < end, weekdayNumber(tokens[index]) != nil { index += 1 }
        guard index < end, let month = monthNumber(tokens[index]) else { return nil }
        index += 1
        guard index < end, let day = number(tokens[index], digits: 1...2), day >= 1 else { return nil }
        index += 1
        guard index < end, let time = timeOfDay(tokens[index]) else { return nil }
        index += 1
        var offset: Int? = nil
        if index < end, number(tokens[index], digits: 1...4) == nil {
            // A zone before the year ("Fri Dec  7 15:59:50 PST 2001").
            guard let zone = zoneOffset(tokens[index], unknownNamesAsUTC: true) else { return nil }
            offset = zone
            index += 1
        }
        guard index < end, let rawYear = number(tokens[index], digits: 1...4) else { return nil }
        let yearDigits = tokens[index].count
        index += 1
        let year: Int
        switch yearDigits {
        case 1, 2: year = rawYear < 50 ? 2000 + rawYear : 1900 + rawYear
        case 3: year = 1900 + rawYear
        default: year = rawYear
        }
        guard year >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        if offset == nil, index < end {
            // A zone after the year; anything else there ("remote from host") is ignored.
            offset = zoneOffset(tokens[index], unknownNamesAsUTC: false)
        }
        let days = daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(time) - Int64(offset ?? 0)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Whether `tokens[index]` and the next token read "weekday month", where a From_ line's
    /// date begins.
    static func isDateStart(_ tokens: [Substring], at index: Int) -> Bool {
        index + 1 < tokens.count && weekdayNumber(tokens[index]) != nil && monthNumber(tokens[index + 1]) != nil
    }

    // MARK: - Calendar arithmetic

    private static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the four-digit-year range.
    private static let minimumSeconds: Int64 = -62_135_596_800
    private static let maximumSeconds: Int64 = 253_402_300_799

    /// RFC 5322 §4.3 obs-zone names, in seconds east of UTC.
    private static let zoneNames: [String: Int] = [
        "UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
        "EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
        "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
    ]

    private static func weekdayNumber(_ token: Substring) -> Int? {
        guard token.utf8.count == 3 else { return nil }
        return weekdayNames.firstIndex { asciiCaseInsensitiveEquals($0, token) }
    }

    private static func monthNumber(_ token: Substring) -> Int? {
        guard token.utf8.count == 3 else { return nil }
        return monthNames.firstIndex { asciiCaseInsensitiveEquals($0, token) }.map { $0 + 1 }
    }

    /// A run of ASCII digits of a length in `digits`; no sign, no spaces.
    private static func number(_ token: Substring, digits: ClosedRange<Int>) -> Int? {
        let utf8 = token.utf8
        guard digits.contains(utf8.count) else { return nil }
        var value = 0
        for byte in utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    /// `HH:MM` or `HH:MM:SS` as seconds since midnight. Second 60 (a leap second) is accepted
    /// and lands on the next minute, as POSIX time does.
    private static func timeOfDay(_ token: Substring) -> Int? {
        let parts = token.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              let hour = number(parts[0], digits: 1...2), hour <= 23,
              let minute = number(parts[1], digits: 2...2), minute <= 59
        else { return nil }
        var second = 0
        if parts.count == 3 {
            guard let value = number(parts[2], digits: 2...2), value <= 60 else { return nil }
            second = value
        }
        return hour * 3600 + minute * 60 + second
    }

    /// `+HHMM` / `-HHMM` or a zone name, in seconds east of UTC.
    private static func zoneOffset(_ token: Substring, unknownNamesAsUTC: Bool) -> Int? {
        if let sign = token.first, sign == "+" || sign == "-" {
            guard let value = number(token.dropFirst(), digits: 4...4), value % 100 < 60 else { return nil }
            let seconds = (value / 100) * 3600 + (value % 100) * 60
            return sign == "-" ? -seconds : seconds
        }
        if let known = zoneNames[token.uppercased()] { return known }
        guard unknownNamesAsUTC, !token.isEmpty, token.utf8.allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A })
        else { return nil }
        return 0
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil,
    /// https://howardhinnant.github.io/date_algorithms.html).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        // Count from March so the leap day is the last day of the (shifted) year.
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil` (Hinnant's civil_from_days).
    private static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// ASCII case-insensitive comparison: asctime names are ASCII, and locale-aware comparison
    /// (`caseInsensitiveCompare`) is both slower and not what a file format means.
    private static func asciiCaseInsensitiveEquals(_ name: String, _ token: Substring) -> Bool {
        let a = name.utf8, b = token.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || ((x | 0x20) == (y | 0x20) && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
        }
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : (a - b + 1) / b
    }

    private static func floorModulo(_ a: Int64, _ b: Int64) -> Int64 {
        let r = a % b
        return r < 0 ? r + b : r
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
