/// A calendar date as used by SEARCH keys (RFC 9051 §6.4.4, §9 `date`), without time or zone.
///
/// ```
/// date       = date-text / DQUOTE date-text DQUOTE
/// date-text  = date-day "-" date-month "-" date-year
/// date-day   = 1*2DIGIT
/// date-month = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" /
///              "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
/// date-year  = 4DIGIT
/// ```
public struct IMAPDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    /// 1...12.
    public var month: Int
    /// 1...31.
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Days since 1970-01-01 of this date (proleptic Gregorian calendar).
    public var daysSince1970: Int { CivilCalendar.daysFromCivil(year: year, month: month, day: day) }

    public static func < (a: IMAPDate, b: IMAPDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    /// `d-Mon-yyyy`, as a client would send it.
    public var description: String {
        "\(day)-\(CivilCalendar.monthName(month))-\(CivilCalendar.pad(year, 4))"
    }
}

/// A date, time and zone offset: APPEND's `date-time` and the INTERNALDATE FETCH item
/// (RFC 9051 §2.3.3, §9).
///
/// ```
/// date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
/// date-day-fixed = (SP DIGIT) / 2DIGIT
/// time           = 2DIGIT ":" 2DIGIT ":" 2DIGIT
/// zone           = ("+" / "-") 4DIGIT
/// ```
public struct IMAPDateTime: Sendable, Hashable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// Offset of the local time from UTC in minutes, e.g. `-420` for `-0700`.
    public var zoneMinutes: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, zoneMinutes: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.zoneMinutes = zoneMinutes
    }

    /// The local date and time of the instant `secondsSince1970` (UTC) seen in the zone
    /// `zoneMinutes` east of UTC. The calendar arithmetic is done here, without Foundation.
    public init(secondsSince1970: Int64, zoneMinutes: Int = 0) {
        // Wrapping arithmetic: absurd stored values must not trap (they give absurd dates).
        let local = secondsSince1970 &+ Int64(truncatingIfNeeded: zoneMinutes) &* 60
        // Floor division so that instants before 1970 land on the right day.
        var days = local / 86_400
        var rem = local % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (y, m, d) = CivilCalendar.civilFromDays(Int(days))
        self.init(year: y, month: m, day: d,
                  hour: Int(rem / 3600), minute: Int(rem % 3600 / 60), second: Int(rem % 60),
                  zoneMinutes: zoneMinutes)
    }

    /// The instant as seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64 {
        let days = Int64(truncatingIfNeeded: CivilCalendar.daysFromCivil(year: year, month: month, day: day))
        let time = Int64(truncatingIfNeeded: hour) &* 3600 &+ Int64(truncatingIfNeeded: minute) &* 60 &+ Int64(truncatingIfNeeded: second)
        return days &* 86_400 &+ time &- Int64(truncatingIfNeeded: zoneMinutes) &* 60
    }

    /// The date part, for comparisons with SEARCH dates.
    public var date: IMAPDate { IMAPDate(year: year, month: month, day: day) }

    /// `dd-Mon-yyyy hh:mm:ss +zzzz` with a space-padded day (`date-day-fixed`), without quotes.
    public var description: String {
        let dayText = day < 10 ? " \(day)" : String(day)
        let sign = zoneMinutes < 0 ? "-" : "+"
        let z = zoneMinutes.magnitude
        return "\(dayText)-\(CivilCalendar.monthName(month))-\(CivilCalendar.pad(year, 4)) "
            + "\(CivilCalendar.pad(hour, 2)):\(CivilCalendar.pad(minute, 2)):\(CivilCalendar.pad(second, 2)) "
            + "\(sign)\(CivilCalendar.pad(Int(z / 60), 2))\(CivilCalendar.pad(Int(z % 60), 2))"
    }
}

/// Gregorian calendar arithmetic (Howard Hinnant's `days_from_civil` / `civil_from_days`).
enum CivilCalendar {
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The month's abbreviation; out-of-range months are clamped rather than trapping.
    static func monthName(_ month: Int) -> String { monthNames[max(0, min(11, month &- 1))] }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        // Wrapping arithmetic so that nonsense field values never trap.
        let y = month <= 2 ? year &- 1 : year
        let era = (y >= 0 ? y : y &- 399) / 400
        let yoe = y &- era &* 400
        let mp = ((month % 12) + 21) % 12
        let doy = (153 &* mp &+ 2) / 5 &+ day &- 1
        let doe = yoe &* 365 &+ yoe / 4 &- yoe / 100 &+ doy
        return era &* 146_097 &+ doe &- 719_468
    }

    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Month number (1...12) of a three-letter name, case-insensitively.
    static func month<C: Collection<UInt8>>(_ name: C) -> Int? {
        guard name.count == 3 else { return nil }
        let n = ASCII.uppercased(name)
        return monthNames.firstIndex { $0.uppercased() == n }.map { $0 + 1 }
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
