/// Byte comparison whose running time depends only on the lengths of its inputs, never on where
/// the first difference is: a comparison that stops early lets an attacker who can time replies
/// learn a secret (a hash, a SCRAM key) one byte at a time.
///
/// Lengths are not secret here (every hash and key we compare has a fixed, public length), so
/// unequal lengths return `false` at once.
@inline(never)
package func constantTimeEquals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) {
        difference |= x ^ y
    }
    return difference == 0
}
