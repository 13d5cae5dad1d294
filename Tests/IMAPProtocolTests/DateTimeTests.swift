import Testing
@testable import IMAPProtocol

/// INTERNALDATE formatting and `date-time` parsing with our own calendar arithmetic
/// (RFC 9051 §2.3.3, §9).
@Suite struct DateTimeTests {
    static let known: [(Int64, Int, String)] = [
        (0, 0, " 1-Jan-1970 00:00:00 +0000"),
        (837_596_665, -420, "17-Jul-1996 02:44:25 -0700"),
        (1_709_251_199, 0, "29-Feb-2024 23:59:59 +0000"),
        (1_709_251_199, 60, " 1-Mar-2024 00:59:59 +0100"),
        (-3600, 0, "31-Dec-1969 23:00:00 +0000"),
        (4_107_542_400, 0, " 1-Mar-2100 00:00:00 +0000"),
        (-2_208_988_800, 0, " 1-Jan-1900 00:00:00 +0000"),
        (1_700_000_000, 330, "15-Nov-2023 03:43:20 +0530"),
        (1_700_000_000, -150, "14-Nov-2023 19:43:20 -0230"),
    ]

    @Test(arguments: known) func formats(_ k: (Int64, Int, String)) {
        let d = IMAPDateTime(secondsSince1970: k.0, zoneMinutes: k.1)
        #expect(d.description == k.2)
        #expect(d.secondsSince1970 == k.0)
    }

    @Test func calendarRoundTrip() {
        var rng = SeededRNG(seed: 2024)
        for _ in 0..<5000 {
            let seconds = Int64.random(in: -4_000_000_000...8_000_000_000, using: &rng)
            let zone = Int.random(in: -(14 * 60)...(14 * 60), using: &rng)
            let d = IMAPDateTime(secondsSince1970: seconds, zoneMinutes: zone)
            #expect(d.secondsSince1970 == seconds)
            #expect((1...12).contains(d.month) && (1...CivilCalendar.daysInMonth(year: d.year, month: d.month)).contains(d.day))
            #expect((0..<24).contains(d.hour) && (0..<60).contains(d.minute) && (0..<60).contains(d.second))
        }
    }

    @Test func daysAgreeWithDateArithmetic() {
        var days = 0
        for year in 1970..<2100 {
            for month in 1...12 {
                #expect(IMAPDate(year: year, month: month, day: 1).daysSince1970 == days)
                days += CivilCalendar.daysInMonth(year: year, month: month)
            }
        }
    }

    /// What the encoder writes for INTERNALDATE, the parser reads back from APPEND.
    @Test func internalDateRoundTrip() {
        var rng = SeededRNG(seed: 77)
        for _ in 0..<300 {
            let d = IMAPDateTime(secondsSince1970: Int64.random(in: 0...4_000_000_000, using: &rng),
                                 zoneMinutes: Int.random(in: -720...840, using: &rng) / 15 * 15)
            let encoded = IMAPEncoder().encode(.untagged(.fetch(1, [.internalDate(d)])))
            // `* 1 FETCH (INTERNALDATE "` ... `")`
            let quoted = Array(encoded[24..<(encoded.count - 3)])
            let command = bytes("a APPEND INBOX ") + quoted + bytes(" {1+}\r\nx\r\n")
            let results = Driver.run(command)
            #expect(results == [cmd("a", .append("INBOX", messages: [AppendMessage(internalDate: d, data: bytes("x"))]))])
        }
    }
}

extension DateTimeTests {
    /// Nonsense values (from a corrupt store, say) never trap.
    @Test func absurdValuesDoNotTrap() {
        let extremes = [Int.min, -1, 0, 13, Int.max]
        for v in extremes {
            _ = IMAPDate(year: v, month: v, day: v).description
            _ = IMAPDate(year: v, month: v, day: v).daysSince1970
            let d = IMAPDateTime(year: v, month: v, day: v, hour: v, minute: v, second: v, zoneMinutes: v)
            _ = d.description
            _ = d.secondsSince1970
        }
        for s in [Int64.min, Int64.max, -1, 0] {
            for z in [Int.min, Int.max, 0] {
                _ = IMAPDateTime(secondsSince1970: s, zoneMinutes: z).description
            }
        }
    }
}
