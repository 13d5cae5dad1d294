/// One end of a sequence range: a number or `*`, "the largest number in use" (RFC 9051 §9 `seq-number`).
///
/// ```
/// seq-number = nz-number / "*"
/// ```
public enum SequenceNumber: Sendable, Hashable, CustomStringConvertible {
    case number(UInt32)
    /// `*`: the highest message sequence number or UID in the mailbox.
    case last

    public var description: String {
        switch self {
        case .number(let n): String(n)
        case .last: "*"
        }
    }
}

/// A set of message sequence numbers or UIDs (RFC 9051 §9 `sequence-set`), or the saved search
/// result `$` (RFC 5182 §2.1, SEARCHRES).
///
/// Ranges are kept as written, unsorted and possibly overlapping or reversed (`4:2` means `2:4`,
/// RFC 9051 §9 `seq-range`); resolving `*` needs the mailbox state, so it is left to the caller.
///
/// ```
/// sequence-set     = (seq-number / seq-range) ["," sequence-set]
/// sequence-set     =/ seq-last-command        ; RFC 5182
/// seq-range        = seq-number ":" seq-number
/// seq-last-command = "$"
/// ```
public struct SequenceSet: Sendable, Hashable, CustomStringConvertible {
    public enum Element: Sendable, Hashable, CustomStringConvertible {
        /// `a` (when `from == to`) or `a:b`.
        case range(from: SequenceNumber, to: SequenceNumber)
        /// `$`: the result of the last `SEARCH ... RETURN (SAVE)` (RFC 5182).
        case savedResult

        public static func single(_ n: SequenceNumber) -> Element { .range(from: n, to: n) }
        public static func single(_ n: UInt32) -> Element { .range(from: .number(n), to: .number(n)) }

        public var description: String {
            switch self {
            case .range(let a, let b): a == b ? a.description : "\(a):\(b)"
            case .savedResult: "$"
            }
        }
    }

    public var elements: [Element]

    public init(_ elements: [Element]) { self.elements = elements }

    /// `1:*`.
    public static let all = SequenceSet([.range(from: .number(1), to: .last)])
    /// `$` (RFC 5182).
    public static let savedResult = SequenceSet([.savedResult])

    /// A set of concrete numbers, compressed into ascending ranges (for responses such as
    /// `ESEARCH ALL`, `VANISHED`, `APPENDUID`).
    public init<S: Sequence<UInt32>>(numbers: S) {
        var sorted: [UInt32] = []
        // Sorted without duplicates, so that runs of consecutive numbers are easy to find.
        for n in Array(numbers).sorted() where sorted.last != n { sorted.append(n) }
        var elements: [Element] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] &+ 1 { j += 1 }
            elements.append(.range(from: .number(sorted[i]), to: .number(sorted[j])))
            i = j + 1
        }
        self.elements = elements
    }

    /// A set from closed ranges of concrete numbers, as given.
    public init(ranges: [ClosedRange<UInt32>]) {
        self.elements = ranges.map { .range(from: .number($0.lowerBound), to: .number($0.upperBound)) }
    }

    /// `true` when this is exactly `$`.
    public var isSavedResult: Bool { elements == [.savedResult] }

    /// The ranges with `*` replaced by `largest` (and `$` dropped), each normalised so that
    /// `lowerBound <= upperBound` (RFC 9051 §9: `*` is the largest number in use; `4:2` equals
    /// `2:4`). For an empty mailbox the caller decides what `*` means before calling this.
    public func resolved(largest: UInt32) -> [ClosedRange<UInt32>] {
        elements.compactMap { e in
            guard case .range(let a, let b) = e else { return nil }
            func v(_ n: SequenceNumber) -> UInt32 { if case .number(let x) = n { x } else { largest } }
            let x = v(a), y = v(b)
            return min(x, y)...max(x, y)
        }
    }

    public var description: String { elements.map(\.description).joined(separator: ",") }
}
