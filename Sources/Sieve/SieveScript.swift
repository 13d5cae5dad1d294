/// A parsed and checked Sieve script (RFC 5228), ready to run at each delivery.
public struct SieveScript: Sendable {
    /// The extensions `require` accepts: ManageSieve's SIEVE capability (RFC 5804 §1.7).
    public static let extensions: [String] = [
        "fileinto", "envelope", "copy", "imap4flags", "reject", "ereject", "vacation", "vacation-seconds",
        "subaddress", "body", "relational", "variables", "date", "index", "comparator-i;ascii-numeric",
        "encoded-character", "mailbox",
    ]

    let program: [SieveStatement]
    /// What the script required.
    public let required: Set<String>

    /// Parses and checks `source`; the error names the line and column at fault.
    public init(parsing source: String) throws(SieveError) {
        var lexer = SieveLexer(source)
        var parser = SieveParser(tokens: try lexer.tokens())
        let tree = try parser.script()
        var compiler = SieveCompiler()
        program = try compiler.compile(tree)
        required = compiler.extensions
    }

    /// Runs the script for one delivery: the actions to carry out (never throws; a failure at
    /// run time is reported in `error` with the implicit keep as the only action).
    public func run(_ context: SieveContext) -> SieveOutcome {
        var interpreter = SieveInterpreter(context: context, extensions: required)
        return interpreter.run(program)
    }
}
