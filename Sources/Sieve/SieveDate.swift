import Foundation
import MailCore

/// The date parts of RFC 5260 §4.2, computed with MailCore's civil-calendar arithmetic.
enum SieveDate {
    static let parts: Set<String> = [
        "year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday",
    ]

    /// "+hhmm" / "-hhmm" as seconds east of UTC (RFC 5260 §4.1 time-zone).
    static func offset(_ zone: String) -> Int? {
        let b = Array(zone.utf8)
        guard b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
              b[1...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let d = b[1...].map { Int($0 - UInt8(ascii: "0")) }
        let hours = d[0] * 10 + d[1], minutes = d[2] * 10 + d[3]
        guard minutes < 60 else { return nil }
        return (b[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// The value of `part` for `date` seen at `offset`; nil for an unknown part.
    static func part(_ part: String, of date: Date, offset: Int) -> String? {
        let c = RFC5322Date.components(of: date, offsetSeconds: offset)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        func four(_ n: Int) -> String { String(repeating: "0", count: max(0, 4 - String(n).count)) + "\(n)" }
        let sign = offset < 0 ? "-" : "+"
        let zone = sign + two(abs(offset) / 3600) + two(abs(offset) % 3600 / 60)
        switch part.lowercased() {
        case "year": return four(c.year)
        case "month": return two(c.month)
        case "day": return two(c.day)
        case "date": return "\(four(c.year))-\(two(c.month))-\(two(c.day))"
        case "julian":
            // Modified Julian Day: days since 1858-11-17 (RFC 5260 §4.2).
            let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + offset
            let days = Int((Double(seconds) / 86400).rounded(.down))
            return String(days + 40587)
        case "hour": return two(c.hour)
        case "minute": return two(c.minute)
        case "second": return two(c.second)
        case "time": return "\(two(c.hour)):\(two(c.minute)):\(two(c.second))"
        case "iso8601":
            let z = sign + two(abs(offset) / 3600) + ":" + two(abs(offset) % 3600 / 60)
            return "\(four(c.year))-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute)):\(two(c.second))\(z)"
        case "std11": return RFC5322Date.format(date, offsetSeconds: offset)
        case "zone": return zone
        case "weekday": return String(c.weekday)
        default: return nil
        }
    }
}
