/// Finding line ends eight bytes at a time (SWAR): the framers look at every input byte once,
/// so this is where a 50 MiB DATA or a pipelined burst spends its time.
public enum ByteScan {
    /// Classic SWAR "has zero byte": the lowest set 0x80 bit marks the first zero byte exactly
    /// (false positives can only appear above a true zero byte, because they come from borrows).
    @inlinable static func zeroByteMask(_ v: UInt64) -> UInt64 {
        (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
    }

    /// Index of the first LF in `p[start..<end]`, or `end`.
    @inlinable public static func firstLF(_ p: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        guard let base = p.baseAddress else { return end }
        var i = start
        let raw = UnsafeRawPointer(base)
        while i &+ 8 <= end {
            let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let m = zeroByteMask(w ^ 0x0A0A_0A0A_0A0A_0A0A)
            if m != 0 { return i &+ (m.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < end {
            if base[i] == ASCIIByte.lf { return i }
            i &+= 1
        }
        return end
    }

    /// Index of the first CR or LF in `p[start..<end]`, or `end`.
    @inlinable public static func firstCROrLF(_ p: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        guard let base = p.baseAddress else { return end }
        var i = start
        let raw = UnsafeRawPointer(base)
        while i &+ 8 <= end {
            let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            // The OR of two masks still has its lowest bit at a true match: a false positive in
            // one mask lies above a true match in that same mask.
            let m = zeroByteMask(w ^ 0x0A0A_0A0A_0A0A_0A0A) | zeroByteMask(w ^ 0x0D0D_0D0D_0D0D_0D0D)
            if m != 0 { return i &+ (m.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < end {
            let b = base[i]
            if b == ASCIIByte.lf || b == ASCIIByte.cr { return i }
            i &+= 1
        }
        return end
    }
}
