import Foundation

/// Conversion between the two line-ending conventions Swallow meets.
///
/// Swallow stores every message canonically with CRLF line endings, because those are the bytes
/// SMTP (RFC 5321 §2.3.8) and IMAP (RFC 9051 §2.2) put on the wire. The on-disk formats that
/// `swallow import` and `swallow export` read and write (mbox, RFC 4155; Maildir) use the local
/// Unix convention, a bare LF. These two functions move between the conventions and are exact
/// inverses on normal input: for bytes without any CR, `toLF(toCRLF(x)) == x`; for canonical
/// CRLF text (no bare CR, no bare LF), `toCRLF(toLF(y)) == y`.
///
/// Both make a single pass and return the input array itself (no copy) when nothing changes,
/// which is the common case for a message that is already in the wanted form.
public enum LineEndings: Sendable {
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    /// Converts every bare LF to CRLF.
    ///
    /// An existing CRLF is kept as it is (it is not doubled to CRCRLF) and a lone CR that is not
    /// followed by LF is kept unchanged: it is not a line ending in either convention, and
    /// rewriting it would make the conversion lossy. (SMTP rejects such bytes on input anyway,
    /// DESIGN.md §4 "SMTP smuggling"; they can only arrive here from an imported file.)
    public static func toCRLF(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { source -> [UInt8] in
            let count = source.count
            // Find the first bare LF; until there is one the input is already in CRLF form and is
            // returned without copying.
            var position = 0
            var firstBare: Int? = nil
            while let index = find(lf, in: source, from: position) {
                if index == 0 || source[index - 1] != cr {
                    firstBare = index
                    break
                }
                position = index + 1
            }
            guard let firstBare else { return bytes }

            var output: [UInt8] = []
            // Mail lines average well over 32 bytes, so one extra byte per 32 usually avoids any
            // regrowth; a pathological input (all LFs) still works, the array just grows.
            output.reserveCapacity(count + count / 32 + 16)
            var runStart = 0
            var next: Int? = firstBare
            while let index = next {
                if index == 0 || source[index - 1] != cr {
                    // Copy the run before the LF in one block, then the new CR; the LF itself
                    // starts the next run.
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index]))
                    output.append(cr)
                    runStart = index
                }
                next = find(lf, in: source, from: index + 1)
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<count]))
            return output
        }
    }

    /// Converts every CRLF pair to a bare LF.
    ///
    /// A lone CR (not followed by LF) and an LF that already stands alone are kept unchanged, so
    /// the function never loses a byte it does not understand.
    public static func toLF(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { source -> [UInt8] in
            let count = source.count
            var position = 0
            var firstPair: Int? = nil
            while let index = find(cr, in: source, from: position) {
                if index + 1 < count && source[index + 1] == lf {
                    firstPair = index
                    break
                }
                position = index + 1
            }
            guard let firstPair else { return bytes }

            var output: [UInt8] = []
            // The result is never longer than the input.
            output.reserveCapacity(count)
            var runStart = 0
            var next: Int? = firstPair
            while let index = next {
                if index + 1 < count && source[index + 1] == lf {
                    // Copy up to (not including) the CR; the LF starts the next run.
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index]))
                    runStart = index + 1
                }
                next = find(cr, in: source, from: index + 1)
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<count]))
            return output
        }
    }

    /// The index of the next `byte` at or after `start`. memchr is vectorised in libc, several
    /// times faster than a byte loop over a large import.
    private static func find(_ byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = buffer.baseAddress, start < buffer.count else { return nil }
        guard let found = memchr(base + start, Int32(byte), buffer.count - start) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}
