/// Byte constants and small ASCII predicates shared by the line-based grammars (SMTP, LMTP,
/// POP3, ManageSieve). Kept `@inlinable`: they sit in every parser's inner loop.
public enum ASCIIByte {
    public static let cr: UInt8 = 0x0D
    public static let lf: UInt8 = 0x0A
    public static let sp: UInt8 = 0x20
    public static let ht: UInt8 = 0x09
    public static let dot: UInt8 = 0x2E
    public static let star: UInt8 = 0x2A
    public static let equals: UInt8 = 0x3D

    @inlinable public static func upper(_ b: UInt8) -> UInt8 {
        (b >= 0x61 && b <= 0x7A) ? b &- 0x20 : b
    }

    @inlinable public static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

    @inlinable public static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @inlinable public static func isBlank(_ b: UInt8) -> Bool { b == sp || b == ht }

    /// C0 controls and DEL.
    @inlinable public static func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }
}

extension UnsafeBufferPointer<UInt8> {
    /// Case-insensitive comparison of `self[range]` with an uppercase ASCII literal.
    @inlinable public func equalsUppercased(_ range: Range<Int>, _ upper: StaticString) -> Bool {
        guard range.count == upper.utf8CodeUnitCount else { return false }
        let u = upper.utf8Start
        var k = 0
        for i in range {
            if ASCIIByte.upper(self[i]) != u[k] { return false }
            k += 1
        }
        return true
    }

    /// Whether the buffer starts with `prefix` (an uppercase ASCII literal), ignoring case.
    @inlinable public func hasUppercasedPrefix(_ prefix: StaticString) -> Bool {
        count >= prefix.utf8CodeUnitCount && equalsUppercased(0..<prefix.utf8CodeUnitCount, prefix)
    }

    /// A UTF-8 validated `String` of `self[range]`, or nil.
    @inlinable public func validatedString(_ range: Range<Int>) -> String? {
        String(validating: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self)
    }

    /// A `String` of bytes the caller already checked to be ASCII.
    @inlinable public func asciiString(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self)
    }

    /// `range` without leading and trailing SP and HT.
    @inlinable public func trimmingBlanks(_ range: Range<Int>) -> Range<Int> {
        var start = range.lowerBound, end = range.upperBound
        while end > start, ASCIIByte.isBlank(self[end - 1]) { end -= 1 }
        while start < end, ASCIIByte.isBlank(self[start]) { start += 1 }
        return start..<end
    }
}
