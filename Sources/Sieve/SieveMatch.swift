/// Comparators (RFC 4790 as Sieve uses them, RFC 5228 §2.7.3) and match types (§2.7.1,
/// RFC 5231 for :value and :count).
extension SieveComparator {
    func equal(_ a: String, _ b: String) -> Bool {
        switch self {
        case .octet: a.utf8.elementsEqual(b.utf8)
        case .asciiCasemap: a.utf8.elementsEqual(b.utf8, by: { Self.fold($0) == Self.fold($1) })
        case .asciiNumeric: Self.numericOrder(a, b) == 0
        }
    }

    func contains(_ haystack: String, _ needle: String) -> Bool {
        let h = Array(haystack.utf8), n = Array(needle.utf8)
        guard !n.isEmpty else { return true }
        guard n.count <= h.count else { return false }
        let fold = self == .asciiCasemap
        outer: for start in 0...(h.count - n.count) {
            for i in 0..<n.count {
                let x = h[start + i], y = n[i]
                if fold ? Self.fold(x) != Self.fold(y) : x != y { continue outer }
            }
            return true
        }
        return false
    }

    /// -1, 0 or 1. Non-numeric comparators order by (folded) octets.
    func order(_ a: String, _ b: String) -> Int {
        switch self {
        case .asciiNumeric: return Self.numericOrder(a, b)
        case .octet, .asciiCasemap:
            let fold = self == .asciiCasemap
            for (x, y) in zip(a.utf8, b.utf8) {
                let fx = fold ? Self.fold(x) : x, fy = fold ? Self.fold(y) : y
                if fx != fy { return fx < fy ? -1 : 1 }
            }
            return a.utf8.count == b.utf8.count ? 0 : (a.utf8.count < b.utf8.count ? -1 : 1)
        }
    }

    static func fold(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    /// RFC 4790 §9.1.1: compare the leading digit strings as numbers of any length; a string
    /// that does not start with a digit is "positive infinity".
    static func numericOrder(_ a: String, _ b: String) -> Int {
        func digits(_ s: String) -> [UInt8]? {
            let d = Array(s.utf8.prefix(while: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }))
            guard !d.isEmpty else { return nil }
            let trimmed = Array(d.drop(while: { $0 == UInt8(ascii: "0") }))
            return trimmed
        }
        switch (digits(a), digits(b)) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case let (x?, y?):
            if x.count != y.count { return x.count < y.count ? -1 : 1 }
            for (p, q) in zip(x, y) where p != q { return p < q ? -1 : 1 }
            return 0
        }
    }
}

extension SieveRelation {
    func holds(_ order: Int) -> Bool {
        switch self {
        case .gt: order > 0
        case .ge: order >= 0
        case .lt: order < 0
        case .le: order <= 0
        case .eq: order == 0
        case .ne: order != 0
        }
    }
}

/// `:matches` (RFC 5228 §2.7.1): "*" matches any run of characters, "?" exactly one, "\"
/// quotes the next character. Each wildcard captures what it matched, shortest first, for the
/// match variables (RFC 5229 §3.2: `"[*] *"` against "[a] [b] c" gives "a", then "[b] c").
enum SieveGlob {
    /// Patterns and values longer than this are refused as no match (bounded work).
    static let maxLength = 64 * 1024
    /// More wildcards than this in one pattern: no match (each "*" is one level of recursion).
    static let maxStars = 64

    private enum Piece: Equatable {
        case literal(Character)
        case one
        case any
    }

    static func match(_ value: String, _ pattern: String, comparator: SieveComparator) -> [String]? {
        guard value.utf8.count <= maxLength, pattern.utf8.count <= maxLength else { return nil }
        var pieces: [Piece] = []
        var escaped = false
        for c in pattern {
            if escaped {
                pieces.append(.literal(c))
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "*" {
                pieces.append(.any)
            } else if c == "?" {
                pieces.append(.one)
            } else {
                pieces.append(.literal(c))
            }
        }
        let text = Array(value)
        let fold = comparator == .asciiCasemap
        func same(_ a: Character, _ b: Character) -> Bool {
            guard fold else { return a == b }
            if a.isASCII, b.isASCII { return a.lowercased() == b.lowercased() }
            return a == b
        }
        // Depth-first, each "*" trying the shortest run first. Literals and "?" advance in a
        // loop; only "*" recurses, so the depth is the number of stars (bounded). A (star,
        // position) pair that failed once fails again whatever the captures: remembered.
        guard pieces.count(where: { $0 == .any }) <= maxStars else { return nil }
        var failed = Set<Int>()
        var captures: [Range<Int>] = []
        func step(_ start: Int, _ from: Int) -> Bool {
            var p = start, t = from, added = 0
            func fail() -> Bool {
                captures.removeLast(added)
                return false
            }
            while p < pieces.count {
                switch pieces[p] {
                case .literal(let c):
                    guard t < text.count, same(text[t], c) else { return fail() }
                case .one:
                    guard t < text.count else { return fail() }
                    captures.append(t..<(t + 1))
                    added += 1
                case .any:
                    let key = p &* (text.count + 1) &+ t
                    guard !failed.contains(key) else { return fail() }
                    for end in t...text.count {
                        captures.append(t..<end)
                        if step(p + 1, end) { return true }
                        captures.removeLast()
                    }
                    failed.insert(key)
                    return fail()
                }
                p += 1
                t += 1
            }
            return t == text.count ? true : fail()
        }
        guard step(0, 0) else { return nil }
        return [value] + captures.map { String(text[$0]) }
    }
}

extension SieveMatcher {
    /// Whether any value matches any key. For `:matches`, the captures of the first match
    /// (RFC 5229 §3.2); `:count` compares the number of values instead.
    func test(_ values: [String], _ keys: [String]) -> (matched: Bool, captures: [String]?) {
        switch type {
        case .count(let relation):
            let count = String(values.count)
            return (keys.contains { relation.holds(comparator.order(count, $0)) }, nil)
        case .value(let relation):
            for v in values where keys.contains(where: { relation.holds(comparator.order(v, $0)) }) { return (true, nil) }
            return (false, nil)
        case .is:
            for v in values where keys.contains(where: { comparator.equal(v, $0) }) { return (true, nil) }
            return (false, nil)
        case .contains:
            for v in values where keys.contains(where: { comparator.contains(v, $0) }) { return (true, nil) }
            return (false, nil)
        case .matches:
            for v in values {
                for k in keys {
                    if let captures = SieveGlob.match(v, k, comparator: comparator) { return (true, captures) }
                }
            }
            return (false, nil)
        }
    }
}
