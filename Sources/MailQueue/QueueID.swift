import Foundation

/// A queue ID that follows one message from acceptance to its last delivery (DESIGN.md §4
/// "Traceable"): in the `Received:` header, the `250 ... queued as ID` reply and every log line.
///
/// 16 uppercase hex digits: the microsecond time (so IDs sort by arrival, as Postfix's long
/// queue IDs do) and a random part (so two processes never collide).
public struct QueueID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard rawValue.count == 16, rawValue.allSatisfy({ $0.isHexDigit && !$0.isLowercase }) else { return nil }
        self.rawValue = rawValue
    }

    public static func make(now: Date = Date()) -> QueueID {
        let micros = UInt64(max(0, now.timeIntervalSince1970 * 1_000_000)) & 0xFF_FFFF_FFFF_FFFF
        let random = UInt64.random(in: 0...0xFF)
        let text = String(micros << 8 | random, radix: 16, uppercase: true)
        return QueueID(String(repeating: "0", count: 16 - text.count) + text)!
    }

    public var description: String { rawValue }
    public static func < (a: QueueID, b: QueueID) -> Bool { a.rawValue < b.rawValue }
}
