import Foundation
import Sieve
import Testing

// Scripts `SieveScript(parsing:)` must refuse, with the position ManageSieve's PUTSCRIPT and
// `swallow sieve put` report: the 1-based line and column of the token at fault.
//
// Scripts are written with "\n" and parsed with CRLF line ends (RFC 5228 §8.1); columns count
// from the start of the line and every script is ASCII up to the fault, so octets and
// characters agree. `column` is nil where more than one token could fairly be blamed (a
// missing token at the end of input, the argument or the command it belongs to); the line is
// always checked.

@Suite("Sieve parse errors")
struct SieveParseErrorTests {
    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var script: String
        var line: Int
        var column: Int?
        var testDescription: String { name }
    }

    static func e(_ name: String, _ script: String, line: Int, column: Int? = nil) -> ErrorCase {
        ErrorCase(name: name, script: script, line: line, column: column)
    }

    static let cases: [ErrorCase] = grammar + requireCases + argumentCases + extensionCases

    @Test(arguments: cases)
    func refuses(_ c: ErrorCase) {
        let source = SieveTestSupport.crlf(c.script)
        switch SieveTestSupport.parse(source) {
        case .success:
            Issue.record("parsed; expected an error at line \(c.line)")
        case .failure(let error):
            #expect(error.line == c.line, "\(error)")
            if let column = c.column {
                #expect(error.column == column, "\(error)")
            } else {
                #expect(error.column >= 1, "\(error)")
            }
            #expect(!error.message.isEmpty)
            #expect(error.description.hasPrefix("line \(error.line), column \(error.column): "))
        }
    }

    // MARK: RFC 5228 §8: grammar and lexical errors

    static let grammar: [ErrorCase] = [
        e("unknown command (5228 §2.9)", """
          require "fileinto";
          frobnicate "x";
          """, line: 2, column: 1),
        e("unknown command inside a block", """
          if true {
            frobnicate;
          }
          """, line: 2, column: 3),
        e("missing semicolon at the end of input (5228 §8.2)", """
          require "fileinto";
          fileinto "A"
          """, line: 2),
        e("missing semicolon before the next command (5228 §8.2)", """
          require "fileinto";
          keep discard;
          """, line: 2),
        e("unterminated quoted string (5228 §8.1)", """
          require "fileinto";
          fileinto "abc
          """, line: 2),
        e("elsif without if (5228 §3.1)", """
          keep;
          elsif true { keep; }
          """, line: 2, column: 1),
        e("else without if (5228 §3.1)", "else { keep; }", line: 1, column: 1),
        e("else after else (5228 §3.1)",
          "if true { keep; } elsif true { keep; } else { keep; } else { keep; }", line: 1, column: 55),
        e("unbalanced braces: an extra }", """
          keep;
          }
          """, line: 2, column: 1),
        e("unbalanced braces: a missing }", "if true { keep;", line: 1),
        e("if without a test (5228 §3.1)", "if { keep; }", line: 1, column: 1),
        e("an action used as a test (5228 §5)", "if keep { stop; }", line: 1, column: 4),
        e("empty test list (5228 §8.2: test-list has at least one test)", "if anyof () { keep; }", line: 1),
        e("unterminated bracket comment (5228 §8.1)", "keep; /* never closed", line: 1),
        e("NUL in a string (5228 §2.4.2)", "require \"fileinto\";\nfileinto \"a\u{0}b\";", line: 2),
    ]

    // MARK: RFC 5228 §3.2, §2.10.5, §6: require

    static let requireCases: [ErrorCase] = [
        e("require of an unknown extension (5228 §3.2)", #"require ["fileinto", "x-frobnicate"];"#, line: 1),
        e("capability strings are case-sensitive (5228 §6)", #"require "FILEINTO";"#, line: 1),
        e("require after another command (5228 §3.2)", """
          keep;
          require "fileinto";
          """, line: 2, column: 1),
        e("fileinto without require \"fileinto\" (5228 §2.10.5)", #"fileinto "A";"#, line: 1, column: 1),
        e("fileinto in a block without its require", #"""
          require "copy";
          if true {
            fileinto "A";
          }
          """#, line: 3, column: 3),
        e("envelope without require \"envelope\" (5228 §5.4)",
          #"if envelope "from" "x" { keep; }"#, line: 1, column: 4),
        e("a comparator other than i;octet / i;ascii-casemap without require (5228 §2.7.3)", #"""
          require "relational";
          if header :value "gt" :comparator "i;ascii-numeric" "x" "1" { keep; }
          """#, line: 2),
        e("require of an unknown comparator (5228 §2.7.3)", #"require "comparator-i;nope";"#, line: 1),
    ]

    // MARK: RFC 5228 §2.6, §2.7: arguments

    static let argumentCases: [ErrorCase] = [
        e("wrong argument type: size :over with a string (5228 §5.9)",
          #"if size :over "x" { keep; }"#, line: 1, column: 15),
        e("size with both :over and :under (5228 §5.9)",
          "if size :over 1K :under 2K { keep; }", line: 1, column: 18),
        e("unknown tag (5228 §2.6.2)", #"if header :foo "subject" "x" { keep; }"#, line: 1, column: 11),
        e("two match types (5228 §2.7.1)",
          #"if header :is :contains "subject" "x" { keep; }"#, line: 1, column: 15),
        e("fileinto without its argument (5228 §4.1)", """
          require "fileinto";
          fileinto;
          """, line: 2),
        e("keep takes no argument (5228 §4.3)", #"keep "x";"#, line: 1, column: 6),
        e("stop takes no argument (5228 §3.3)", #"stop "x";"#, line: 1, column: 6),
        e("a tag of another command (5228 §2.6.2)", #"""
          require "fileinto";
          fileinto :days 3 "x";
          """#, line: 2, column: 10),
        e("a tagged argument given twice (5228 §2.6)", #"""
          require ["fileinto", "copy"];
          fileinto :copy :copy "A";
          """#, line: 2, column: 16),
        e(":contains with i;ascii-numeric, which has no substring match (5228 §2.7.1)", #"""
          require "comparator-i;ascii-numeric";
          if header :contains :comparator "i;ascii-numeric" "x" "1" { keep; }
          """#, line: 2),
    ]

    // MARK: Extensions

    static let extensionCases: [ErrorCase] = [
        e(":copy without require \"copy\" (3894)", #"""
          require "fileinto";
          fileinto :copy "A";
          """#, line: 2, column: 10),
        e(":create without require \"mailbox\" (5490 §3.2)", #"""
          require "fileinto";
          fileinto :create "A";
          """#, line: 2, column: 10),
        e("ereject with only require \"reject\" (5429)", #"""
          require "reject";
          ereject "x";
          """#, line: 2, column: 1),
        e("setflag without require \"imap4flags\" (5232)", #"setflag "\\Seen";"#, line: 1, column: 1),
        e("body without require \"body\" (5173)", #"if body :contains "x" { keep; }"#, line: 1, column: 4),
        e(":detail without require \"subaddress\" (5233 §4)", #"""
          require "envelope";
          if envelope :detail "to" "x" { keep; }
          """#, line: 2, column: 13),
        e("set without require \"variables\" (5229 §4)", #"set "a" "b";"#, line: 1, column: 1),
        e("set of a name that is not an identifier (5229 §4)", #"""
          require "variables";
          set "1a" "b";
          """#, line: 2),
        e("vacation :days with a string (5230 §4.1)", #"""
          require "vacation";
          vacation :days "x" "reason";
          """#, line: 2, column: 16),
        e(":last without :index (5260 §6)", #"""
          require "index";
          if header :last :is "received" "x" { keep; }
          """#, line: 2),
        e(":zone with :originalzone (5260 §4)", #"""
          require "date";
          if date :zone "+0000" :originalzone "date" "year" "2024" { keep; }
          """#, line: 2, column: 23),
        e("${unicode:D800} is an error (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${unicode:D800}";
          """#, line: 2),
    ]
}
