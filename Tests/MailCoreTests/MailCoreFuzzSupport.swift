@_exported import TestSupport

// Deterministic pseudo-random input for the MailCore parser fuzz tests (DESIGN.md §5.9):
// a failure reproduces on every run and every machine.

typealias MailCoreFuzzRNG = SeededRNG

extension SeededRNG {
    /// Random bytes, biased towards the characters that matter to mail grammars.
    mutating func bytes(maxLength: Int, alphabet: [UInt8]) -> [UInt8] {
        let n = Int.random(in: 0...maxLength, using: &self)
        return (0..<n).map { _ in
            Int.random(in: 0..<4, using: &self) == 0
                ? UInt8.random(in: 0...255, using: &self)
                : alphabet.randomElement(using: &self)!
        }
    }

    /// A copy of `seed` with a few random byte flips, insertions, deletions and splices.
    mutating func mutate(_ seed: [UInt8], alphabet: [UInt8]) -> [UInt8] {
        var out = seed
        for _ in 0..<Int.random(in: 1...6, using: &self) {
            let op = Int.random(in: 0..<4, using: &self)
            let pos = out.isEmpty ? 0 : Int.random(in: 0..<out.count, using: &self)
            switch op {
            case 0 where !out.isEmpty:
                out[pos] = alphabet.randomElement(using: &self)!
            case 1:
                out.insert(alphabet.randomElement(using: &self)!, at: pos)
            case 2 where !out.isEmpty:
                out.remove(at: pos)
            default:
                // Duplicate or drop a chunk: exercises repeated and truncated structure.
                if out.isEmpty { break }
                let len = Int.random(in: 0...min(40, out.count - pos), using: &self)
                if Bool.random(using: &self) {
                    out.insert(contentsOf: out[pos..<(pos + len)], at: pos)
                } else {
                    out.removeSubrange(pos..<(pos + len))
                }
            }
        }
        return out
    }
}
