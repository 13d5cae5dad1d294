/// A set of UIDs as sorted, non-overlapping, non-adjacent closed ranges: the form IMAP sequence
/// sets take (RFC 9051 §9 `sequence-set`), kept compact so `1:*` costs one range.
public struct UIDSet: Sendable, Hashable, Sequence {
    public private(set) var ranges: [ClosedRange<UInt32>]

    public init() { ranges = [] }

    /// Sorted and merged in one pass (O(n log n)): a client's `1:*,1:*,…` of 16,384 ranges,
    /// or as many disjoint ones, costs a sort, not n² merges.
    public init(_ ranges: [ClosedRange<UInt32>]) {
        var result: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, r.lowerBound <= last.upperBound || r.lowerBound - last.upperBound == 1 {
                result[result.count - 1] = last.lowerBound...Swift.max(last.upperBound, r.upperBound)
            } else {
                result.append(r)
            }
        }
        self.ranges = result
    }

    public init(_ uids: some Sequence<UInt32>) {
        // Sorted input builds the ranges in one pass.
        var result: [ClosedRange<UInt32>] = []
        for u in uids.sorted() {
            if let last = result.last, u <= last.upperBound { continue }
            if let last = result.last, u == last.upperBound &+ 1, last.upperBound != .max {
                result[result.count - 1] = last.lowerBound...u
            } else {
                result.append(u...u)
            }
        }
        ranges = result
    }

    /// Every UID.
    public static let all = UIDSet([1...UInt32.max])

    public var isEmpty: Bool { ranges.isEmpty }

    public func contains(_ uid: UInt32) -> Bool {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < uid { lo = mid + 1 }
            else if ranges[mid].lowerBound > uid { hi = mid - 1 }
            else { return true }
        }
        return false
    }

    public mutating func insert(_ r: ClosedRange<UInt32>) {
        // Ranges that neither overlap nor touch r stay; the rest merge with it.
        var lower = r.lowerBound, upper = r.upperBound
        var before: [ClosedRange<UInt32>] = [], after: [ClosedRange<UInt32>] = []
        for e in ranges {
            if e.upperBound < lower && lower - e.upperBound > 1 {
                before.append(e)
            } else if e.lowerBound > upper && e.lowerBound - upper > 1 {
                after.append(e)
            } else {
                lower = Swift.min(lower, e.lowerBound)
                upper = Swift.max(upper, e.upperBound)
            }
        }
        ranges = before + [lower...upper] + after
    }

    /// The UIDs in order; only sensible for sets of real messages, not for `all`.
    public func makeIterator() -> FlattenSequence<[ClosedRange<UInt32>]>.Iterator {
        ranges.joined().makeIterator()
    }
}
