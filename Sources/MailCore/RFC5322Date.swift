import struct Foundation.Date
import struct Foundation.TimeZone

/// RFC 5322 §3.3 date-time parsing and formatting, done with civil-calendar arithmetic
/// (proleptic Gregorian, Hinnant's days-from-civil) instead of DateFormatter, which is slow and
/// locale-dependent on Linux.
public enum RFC5322Date {
    /// A calendar date and time at a UTC offset.
    public struct Components: Sendable, Hashable {
        public var year: Int
        /// 1...12
        public var month: Int
        /// 1...31
        public var day: Int
        public var hour: Int
        public var minute: Int
        public var second: Int
        /// 0 = Sunday ... 6 = Saturday
        public var weekday: Int
        /// Seconds east of UTC.
        public var offsetSeconds: Int

        public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int = 0, offsetSeconds: Int) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
            self.weekday = weekday
            self.offsetSeconds = offsetSeconds
        }
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// Parses a Date header value; nil if it is not a date.
    public static func parse(_ s: String) -> Date? {
        parseWithOffset(s)?.date
    }

    /// Parses a Date header value, keeping the zone it was written in (IMAP SEARCH SENTON
    /// compares the date as written, RFC 3501 §6.4.4).
    ///
    /// ```
    /// ; RFC 5322 §3.3, §4.3
    /// date-time       =   [ day-of-week "," ] date time [CFWS]
    /// day-of-week     =   ([FWS] day-name) / obs-day-of-week
    /// date            =   day month year
    /// day             =   ([FWS] 1*2DIGIT FWS) / obs-day
    /// year            =   (FWS 4*DIGIT FWS) / obs-year      ; obs-year = [CFWS] 2*DIGIT [CFWS]
    /// time            =   time-of-day zone
    /// time-of-day     =   hour ":" minute [ ":" second ]
    /// zone            =   (FWS ( "+" / "-" ) 4DIGIT) / obs-zone
    /// obs-zone        =   "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" / "MDT" /
    ///                     "PST" / "PDT" / %d65-73 / %d75-90 / %d97-105 / %d107-122
    /// ```
    /// Tolerated: comments anywhere, a missing or unknown day name, full month names, a
    /// missing zone or an unknown zone name (both taken as +0000, RFC 5322 §4.3), two- and
    /// three-digit years (§4.3: add 2000 below 50, otherwise 1900).
    public static func parseWithOffset(_ s: String) -> (date: Date, offsetSeconds: Int)? {
        let tokens = tokenize(Array(s.utf8.prefix(512)))
        var k = 0
        if k < tokens.count, tokens[k].first.map(MailSyntax.isAlpha) == true {
            k += 1  // day-of-week, not checked: a wrong one does not make the date unusable
        }
        guard k + 3 < tokens.count,
            let day = number(tokens[k], maxDigits: 2),
            let month = monthNumber(tokens[k + 1]),
            let rawYear = number(tokens[k + 2], maxDigits: 4),
            let time = timeOfDay(tokens[k + 3])
        else { return nil }
        let yearDigits = tokens[k + 2].count
        let year: Int
        switch yearDigits {
        case 2: year = rawYear < 50 ? 2000 + rawYear : 1900 + rawYear
        case 3: year = 1900 + rawYear
        default: year = rawYear
        }
        var offset = 0
        if k + 4 < tokens.count {
            guard let zone = zoneOffset(tokens[k + 4]) else { return nil }
            offset = zone
        }
        let c = Components(year: year, month: month, day: day, hour: time.0, minute: time.1, second: time.2, offsetSeconds: offset)
        guard let date = date(from: c) else { return nil }
        return (date, offset)
    }

    /// Formats `date` as RFC 5322 §3.3 date-time at the given offset east of UTC,
    /// e.g. `Sun, 29 Nov 2026 12:00:00 +0000`.
    public static func format(_ date: Date, offsetSeconds: Int = 0) -> String {
        let c = components(of: date, offsetSeconds: offsetSeconds)
        let sign = c.offsetSeconds < 0 ? "-" : "+"
        let off = abs(c.offsetSeconds) / 60
        return "\(dayNames[c.weekday]), \(c.day) \(monthNames[c.month - 1]) \(pad(c.year, 4)) "
            + "\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) \(sign)\(pad(off / 60, 2))\(pad(off % 60, 2))"
    }

    /// Formats `date` in `timeZone` (its offset at that instant, so daylight saving applies).
    public static func format(_ date: Date, timeZone: TimeZone) -> String {
        format(date, offsetSeconds: timeZone.secondsFromGMT(for: date))
    }

    /// The calendar fields of `date` at `offsetSeconds` east of UTC (sub-second part dropped).
    public static func components(of date: Date, offsetSeconds: Int = 0) -> Components {
        let t = date.timeIntervalSince1970
        let whole = t.isFinite ? Int(max(min(t.rounded(.down), 1e15), -1e15)) : 0
        let local = whole + offsetSeconds
        let days = floorDiv(local, 86_400)
        let secs = local - days * 86_400
        let (y, m, d) = civilFromDays(days)
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        return Components(
            year: y, month: m, day: d, hour: secs / 3600, minute: secs % 3600 / 60, second: secs % 60,
            weekday: weekday, offsetSeconds: offsetSeconds)
    }

    /// The instant named by `c` (weekday ignored); nil when a field is out of range.
    /// A leap second (`second == 60`) is accepted and lands on the next second.
    public static func date(from c: Components) -> Date? {
        guard (1...12).contains(c.month), c.day >= 1, c.day <= daysInMonth(c.year, c.month),
            (0...23).contains(c.hour), (0...59).contains(c.minute), (0...60).contains(c.second),
            (-1_000_000...1_000_000).contains(c.year), abs(c.offsetSeconds) < 100 * 3600
        else { return nil }
        let days = daysFromCivil(c.year, c.month, c.day)
        let secs = days * 86_400 + c.hour * 3600 + c.minute * 60 + c.second - c.offsetSeconds
        return Date(timeIntervalSince1970: Double(secs))
    }

    // MARK: - Calendar arithmetic (http://howardhinnant.github.io/date_algorithms.html)

    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func floorDiv(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // MARK: - Lexing

    /// Splits on whitespace and ",", dropping comments (CFWS, RFC 5322 §3.2.2).
    static func tokenize(_ b: [UInt8]) -> [ArraySlice<UInt8>] {
        var tokens: [ArraySlice<UInt8>] = []
        var i = 0
        var start: Int? = nil
        func end(_ at: Int) {
            if let s = start, at > s { tokens.append(b[s..<at]) }
            start = nil
        }
        while i < b.count {
            let c = b[i]
            if MailSyntax.isWhitespace(c) || c == UInt8(ascii: ",") {
                end(i)
                i += 1
            } else if c == UInt8(ascii: "(") {
                end(i)
                var depth = 0
                while i < b.count {
                    if b[i] == UInt8(ascii: "(") { depth += 1 }
                    if b[i] == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 { break }
                    }
                    i += 1
                }
                i += 1
            } else if (c == UInt8(ascii: "+") || c == UInt8(ascii: "-")) && start != nil {
                // "12:00:00+0100" written without a space before the zone.
                end(i)
                start = i
                i += 1
            } else {
                if start == nil { start = i }
                i += 1
            }
        }
        end(b.count)
        return tokens
    }

    private static func number(_ t: ArraySlice<UInt8>, maxDigits: Int) -> Int? {
        guard !t.isEmpty, t.count <= maxDigits, t.allSatisfy(MailSyntax.isDigit) else { return nil }
        return t.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    private static func monthNumber(_ t: ArraySlice<UInt8>) -> Int? {
        guard t.count >= 3 else { return nil }
        let prefix = t.prefix(3)
        return monthNames.firstIndex { MailSyntax.equalsIgnoringASCIICase($0.utf8, prefix) }.map { $0 + 1 }
    }

    /// time-of-day = hour ":" minute [ ":" second ]
    private static func timeOfDay(_ t: ArraySlice<UInt8>) -> (Int, Int, Int)? {
        let parts = t.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
            let h = number(parts[0], maxDigits: 2), let m = number(parts[1], maxDigits: 2)
        else { return nil }
        var s = 0
        if parts.count == 3 {
            guard let sec = number(parts[2], maxDigits: 2) else { return nil }
            s = sec
        }
        return (h, m, s)
    }

    /// zone = ( "+" / "-" ) 4DIGIT / obs-zone
    private static func zoneOffset(_ t: ArraySlice<UInt8>) -> Int? {
        if let sign = t.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            let digits = t.dropFirst()
            guard digits.count == 4, let v = number(digits, maxDigits: 4), v % 100 <= 59 else { return nil }
            let secs = (v / 100) * 3600 + (v % 100) * 60
            return sign == UInt8(ascii: "-") ? -secs : secs
        }
        guard t.allSatisfy(MailSyntax.isAlpha) else { return nil }
        let name = MailSyntax.asciiLowercased(t)
        switch name {
        case "ut", "utc", "gmt", "z": return 0
        case "edt": return -4 * 3600
        case "est", "cdt": return -5 * 3600
        case "cst", "mdt": return -6 * 3600
        case "mst", "pdt": return -7 * 3600
        case "pst": return -8 * 3600
        default:
            // RFC 5322 §4.3: military zones and unknown names carry no reliable information.
            return 0
        }
    }
}
