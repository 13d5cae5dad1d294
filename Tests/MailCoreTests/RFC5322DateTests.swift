import Foundation
import Testing
import MailCore

@Suite struct RFC5322DateTests {
    /// Expected instants as Unix seconds and the zone offset as written.
    static let cases: [(String, Int, Int)] = [
        ("Fri, 21 Nov 1997 09:55:06 -0600", 880_127_706, -21600),
        ("Tue, 1 Jul 2003 10:52:37 +0200", 1_057_049_557, 7200),
        ("Thu, 13 Feb 1969 23:32:54 -0330", -27_723_426, -12600),
        ("Sun, 29 Nov 2026 12:00:00 +0000", 1_795_953_600, 0),
        ("29 Nov 2026 12:00:00 +0000", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 12:00 +0000", 1_795_953_600, 0),
        ("Sun,29 Nov 2026 12:00:00 GMT", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 12:00:00 UT", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 07:00:00 EST", 1_795_953_600, -18000),
        ("Sun, 29 Nov 2026 08:00:00 EDT", 1_795_953_600, -14400),
        ("Sun, 29 Nov 2026 06:00:00 CST", 1_795_953_600, -21600),
        ("Sun, 29 Nov 2026 04:00:00 PST", 1_795_953_600, -28800),
        ("Sun, 29 Nov 2026 05:00:00 PDT", 1_795_953_600, -25200),
        ("Sun, 29 Nov 2026 12:00:00 Z", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 12:00:00 A", 1_795_953_600, 0),  // military: treated as -0000
        ("Sun, 29 Nov 2026 12:00:00 XYZT", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 12:00:00", 1_795_953_600, 0),  // missing zone
        ("Sun, 29 November 2026 12:00:00 +0000", 1_795_953_600, 0),
        ("sun, 29 nov 2026 12:00:00 +0000", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 12:00:00 +0000 (UTC)", 1_795_953_600, 0),
        ("(comment) Sun, (x) 29 Nov (y) 2026 12:00:00 +0000", 1_795_953_600, 0),
        ("Sun, 29 Nov 2026 13:30:00+0130", 1_795_953_600, 5400),
        ("  Sun,  29  Nov  2026\r\n 12:00:00  +0000  ", 1_795_953_600, 0),
        ("Sun, 29 Nov 26 12:00:00 +0000", 1_795_953_600, 0),  // 2-digit year < 50
        ("Sat, 29 Nov 97 12:00:00 +0000", 880_804_800, 0),  // 2-digit year >= 50
        ("Sat, 29 Nov 097 12:00:00 +0000", 880_804_800, 0),  // 3-digit year
        ("Thu, 01 Jan 1970 00:00:00 +0000", 0, 0),
        ("Wed, 31 Dec 1969 23:59:59 +0000", -1, 0),
        ("Tue, 29 Feb 2000 00:00:00 +0000", 951_782_400, 0),
        ("Fri, 31 Dec 9999 23:59:59 +0000", 253_402_300_799, 0),
        ("Sat, 30 Jun 2012 23:59:60 +0000", 1_341_100_800, 0),  // leap second rolls over
    ]

    @Test(arguments: cases)
    func parses(_ input: String, _ unix: Int, _ offset: Int) throws {
        let parsed = try #require(RFC5322Date.parseWithOffset(input))
        #expect(parsed.date.timeIntervalSince1970 == Double(unix))
        #expect(parsed.offsetSeconds == offset)
        #expect(RFC5322Date.parse(input) == parsed.date)
    }

    static let invalid: [String] = [
        "", "garbage", "Sun, 29 Nov", "Sun, 29 Foo 2026 12:00:00 +0000", "Sun, 32 Nov 2026 12:00:00 +0000",
        "Sun, 31 Nov 2026 12:00:00 +0000", "Mon, 29 Feb 2100 12:00:00 +0000", "Sun, 29 Nov 2026 24:00:00 +0000",
        "Sun, 29 Nov 2026 12:60:00 +0000", "Sun, 29 Nov 2026 12:00:61 +0000", "Sun, 29 Nov 2026 12 +0000",
        "Sun, 29 Nov 2026 12:00:00 +00", "Sun, 29 Nov 2026 12:00:00 +0060", "Sun, 29 Nov 2026 12:00:00 +12345",
        "Sun, 29 Nov 2026 12:00:00 12", "Sun, 0 Nov 2026 12:00:00 +0000", "Sun, 29 Nov 20261 12:00:00 +0000",
        "Sun, 123 Nov 2026 12:00:00 +0000", "Sun, 29 Nov 2026 1:2:3:4 +0000",
    ]

    @Test(arguments: invalid)
    func rejects(_ input: String) {
        #expect(RFC5322Date.parse(input) == nil)
    }

    static let formats: [(Int, Int, String)] = [
        (1_795_953_600, 0, "Sun, 29 Nov 2026 12:00:00 +0000"),
        (1_795_953_600, 3600, "Sun, 29 Nov 2026 13:00:00 +0100"),
        (1_795_953_600, -5 * 3600 - 1800, "Sun, 29 Nov 2026 06:30:00 -0530"),
        (1_795_953_600, 13 * 3600, "Mon, 30 Nov 2026 01:00:00 +1300"),
        (0, 0, "Thu, 1 Jan 1970 00:00:00 +0000"),
        (-1, 0, "Wed, 31 Dec 1969 23:59:59 +0000"),
        (-27_723_426, -12600, "Thu, 13 Feb 1969 23:32:54 -0330"),
        (951_782_400, 0, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (-62_135_596_800, 0, "Mon, 1 Jan 0001 00:00:00 +0000"),
    ]

    @Test(arguments: formats)
    func formatsAndReparses(_ unix: Int, _ offset: Int, _ expected: String) throws {
        let date = Date(timeIntervalSince1970: Double(unix))
        #expect(RFC5322Date.format(date, offsetSeconds: offset) == expected)
        let back = try #require(RFC5322Date.parseWithOffset(expected))
        #expect(back.date == date)
        #expect(back.offsetSeconds == offset)
    }

    @Test func formatWithTimeZone() throws {
        let date = Date(timeIntervalSince1970: 1_795_953_600)
        let tz = try #require(TimeZone(secondsFromGMT: -7200))
        #expect(RFC5322Date.format(date, timeZone: tz) == "Sun, 29 Nov 2026 10:00:00 -0200")
        #expect(RFC5322Date.format(Date(timeIntervalSince1970: 0.999)) == "Thu, 1 Jan 1970 00:00:00 +0000")
    }

    @Test func componentsRoundTripAcrossCenturies() throws {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0007)
        for _ in 0..<3000 {
            let unix = Int.random(in: -5_000_000_000...20_000_000_000, using: &rng)
            let offset = Int.random(in: -(99 * 60 + 59)...(99 * 60 + 59), using: &rng) * 60
            let date = Date(timeIntervalSince1970: Double(unix))
            let c = RFC5322Date.components(of: date, offsetSeconds: offset)
            #expect(RFC5322Date.date(from: c) == date)
            let s = RFC5322Date.format(date, offsetSeconds: offset)
            let back = try #require(RFC5322Date.parseWithOffset(s), "\(s)")
            #expect(back.date == date, "\(s)")
        }
    }

    @Test func agreesWithFoundationCalendar() throws {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = try #require(TimeZone(secondsFromGMT: 0))
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0008)
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: Double(Int.random(in: -3_000_000_000...6_000_000_000, using: &rng)))
            let f = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
            let c = RFC5322Date.components(of: date)
            let ours: [Int] = [c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday + 1]
            let theirs: [Int] = [f.year!, f.month!, f.day!, f.hour!, f.minute!, f.second!, f.weekday!]
            #expect(ours == theirs)
        }
    }

    @Test func fuzzNeverCrashes() {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0009)
        let alphabet = Array("0123456789 :,+-()JanFebNovSunGMTEST\r\n".utf8)
        let seeds = Self.cases.map { Array($0.0.utf8) }
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 60, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            if let parsed = RFC5322Date.parseWithOffset(String(decoding: bytes, as: UTF8.self)) {
                #expect(abs(parsed.offsetSeconds) < 100 * 3600)
                #expect(parsed.date.timeIntervalSince1970.isFinite)
            }
        }
    }
}
