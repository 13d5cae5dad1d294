import MailCore
import Testing

@Suite struct LineEndingsTests {
    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The obvious byte-at-a-time definitions, to check the fast paths against.
    private static func referenceCRLF(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        for (index, byte) in input.enumerated() {
            if byte == 0x0A && (index == 0 || input[index - 1] != 0x0D) { output.append(0x0D) }
            output.append(byte)
        }
        return output
    }

    private static func referenceLF(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        for (index, byte) in input.enumerated() {
            if byte == 0x0D && index + 1 < input.count && input[index + 1] == 0x0A { continue }
            output.append(byte)
        }
        return output
    }

    @Test(arguments: [
        ("", ""),
        ("a", "a"),
        ("\n", "\r\n"),
        ("a\nb\n", "a\r\nb\r\n"),
        ("a\r\nb", "a\r\nb"),
        ("\r", "\r"),
        ("a\rb\n", "a\rb\r\n"),
        ("\n\n", "\r\n\r\n"),
        ("\r\n\n", "\r\n\r\n"),
        ("\r\r\n", "\r\r\n"),
        ("x\n\r\n", "x\r\n\r\n"),
        ("\n\r", "\r\n\r"),
        ("no newline at all", "no newline at all"),
        ("Subject: h\u{e9}\n\nbody\n", "Subject: h\u{e9}\r\n\r\nbody\r\n"),
    ])
    func toCRLF(input: String, expected: String) {
        #expect(LineEndings.toCRLF(Self.bytes(input)) == Self.bytes(expected))
    }

    @Test(arguments: [
        ("", ""),
        ("a\r\nb\r\n", "a\nb\n"),
        ("\r", "\r"),
        ("\n", "\n"),
        ("\r\r\n", "\r\n"),
        ("a\rb", "a\rb"),
        ("\r\n\r\n", "\n\n"),
        ("x\r", "x\r"),
        ("\r\n\n", "\n\n"),
        ("\n\r", "\n\r"),
        ("plain", "plain"),
    ])
    func toLF(input: String, expected: String) {
        #expect(LineEndings.toLF(Self.bytes(input)) == Self.bytes(expected))
    }

    @Test func randomInputsMatchReferenceAndRoundTrip() {
        var random = SeededRNG(seed: 0x5EED_1E7D)
        let alphabet: [UInt8] = [0x0D, 0x0A, 0x61, 0x20, 0x2E, 0xFF]
        for _ in 0..<3000 {
            let length = Int.random(in: 0...64, using: &random)
            let input = (0..<length).map { _ in alphabet.randomElement(using: &random)! }
            #expect(LineEndings.toCRLF(input) == Self.referenceCRLF(input))
            #expect(LineEndings.toLF(input) == Self.referenceLF(input))

            // The import/export property: LF text without CR survives a trip through storage,
            // and canonical CRLF text survives a trip through a file.
            let lfText = input.filter { $0 != 0x0D }
            #expect(LineEndings.toLF(LineEndings.toCRLF(lfText)) == lfText)
            let crlfText = LineEndings.toCRLF(lfText)
            #expect(LineEndings.toCRLF(LineEndings.toLF(crlfText)) == crlfText)
        }
    }

    @Test func largeInput() {
        // 4 MiB of 76-byte lines, plus one long line, as an imported mailbox might hold.
        var input: [UInt8] = []
        let line = Array(repeating: UInt8(ascii: "x"), count: 76) + [0x0A]
        while input.count < 4 << 20 { input += line }
        input += Array(repeating: UInt8(ascii: "y"), count: 1 << 20)
        input.append(0x0A)
        let crlf = LineEndings.toCRLF(input)
        #expect(crlf == Self.referenceCRLF(input))
        #expect(LineEndings.toLF(crlf) == input)
    }

    @Test func alreadyConvertedInputIsReturnedUnchanged() {
        let crlf = Self.bytes("a\r\nb\r\n")
        #expect(LineEndings.toCRLF(crlf) == crlf)
        let lf = Self.bytes("a\nb\n")
        #expect(LineEndings.toLF(lf) == lf)
    }
}

