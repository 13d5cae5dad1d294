import MailCore
import Testing

@Suite("LogSafe: network text on one log line")
struct LogSafeTests {
    @Test(arguments: [
        ("250 ok", "250 ok"),
        ("a\r\nforged: line", #"a\r\nforged: line"#),
        ("tab\there", #"tab\there"#),
        ("\u{1B}[2J\u{1B}]0;title\u{07}", #"\e[2J\e]0;title\x07"#),
        ("nul\u{0}del\u{7F}", #"nul\x00del\x7F"#),
        ("c1 \u{9B}31m", #"c1 \u{9B}31m"#),
        ("sep\u{2028}para\u{2029}", #"sep\u{2028}para\u{2029}"#),
        ("Grüße, 日本語, emoji 📬", "Grüße, 日本語, emoji 📬"),
        (#"back\slash \n stays"#, #"back\slash \n stays"#),
    ])
    func escapes(input: String, expected: String) {
        #expect(LogSafe.escape(input) == expected)
    }

    /// Escaped text holds no control character, so escaping it again changes nothing: text
    /// escaped when stored can be escaped again when printed.
    @Test func idempotentAndControlFree() {
        var all = ""
        for v in 0..<0x200 { all.unicodeScalars.append(Unicode.Scalar(v)!) }
        let once = LogSafe.escape(all)
        #expect(LogSafe.escape(once) == once)
        #expect(!once.unicodeScalars.contains { $0.properties.generalCategory == .control })
    }
}
