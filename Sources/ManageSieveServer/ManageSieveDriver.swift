import LineFraming
import Logging
import MailAuth
import MailStore
import Metrics
import NIOCore
import ServerSupport
import Sieve

/// What a ManageSieve listener needs.
public struct ManageSieveServices: Sendable {
    public let authenticator: Authenticator
    public let scripts: any SieveScriptStore
    public let policy: AuthenticationPolicy
    public let logger: Logger

    public init(authenticator: Authenticator, scripts: any SieveScriptStore, policy: AuthenticationPolicy, logger: Logger) {
        self.authenticator = authenticator
        self.scripts = scripts
        self.policy = policy
        self.logger = logger
    }
}

/// ManageSieve (RFC 5804) on the connection core: users upload, check, list, activate and
/// remove their Sieve scripts. Scripts are checked with the same parser delivery uses, so a
/// script that is stored also runs.
final class ManageSieveDriver: ConnectionDriver {
    private let services: ManageSieveServices
    private let tlsAvailable: Bool
    private var tlsActive: Bool
    private var account: Account?
    private var parser = ManageSieveParser()
    /// The SASL exchange waiting for the client's next string.
    private var pendingSASL: SASLExchange?
    private var failures = 0
    private var busy = false
    static let maxFailures = 3

    init(services: ManageSieveServices, tlsAvailable: Bool, tlsActive: Bool) {
        self.services = services
        self.tlsAvailable = tlsAvailable
        self.tlsActive = tlsActive
        parser.maxLiteral = type(of: services.scripts).maxSieveScriptBytes + 1024
    }

    // MARK: ConnectionDriver

    func start(_ connection: Connection<ManageSieveDriver>) {
        connection.write(capabilities() + ok("Swallow ManageSieve ready"))
    }

    var atCommandBoundary: Bool { pendingSASL == nil && !busy }

    func farewell(_ reason: ConnectionCloseReason) -> [UInt8]? {
        switch reason {
        case .idleTimeout, .loginTimeout: Self.line("BYE", "Disconnected for inactivity")
        case .shuttingDown: Self.line("BYE", code: "TRYLATER", "Server shutting down")
        case .tooManyFromClient, .tooManyInTotal: Self.line("BYE", code: "TRYLATER", "Too many connections")
        case .outputStalled: nil
        }
    }

    func stopped() {}

    func receive(_ input: inout ByteBuffer, _ connection: Connection<ManageSieveDriver>) -> InputProgress {
        let result = input.withUnsafeReadableBytes { parser.parse($0) }
        switch result {
        case .needMoreBytes:
            return .needMoreBytes
        case .error(let why, let consumed):
            guard consumed > 0 else {
                connection.close(Self.line("BYE", why))
                return .handled
            }
            input.moveReaderIndex(forwardBy: consumed)
            if pendingSASL != nil {
                pendingSASL = nil
                connection.write(no("Authentication failed: \(why)"))
            } else {
                connection.write(no(why))
            }
        case .line(let tokens, let consumed):
            input.moveReaderIndex(forwardBy: consumed)
            if var exchange = pendingSASL {
                pendingSASL = nil
                // RFC 5804 §2.1: the client's answer is a string; "*" cancels.
                guard tokens.count == 1, case .string(let text) = tokens[0] else {
                    connection.write(no("Authentication failed: expected a string"))
                    return .handled
                }
                if text == Array("*".utf8) {
                    _ = exchange.cancel()
                    connection.write(no("Authentication cancelled"))
                    return .handled
                }
                guard let decoded = Base64.decode(text) else {
                    connection.write(no("Authentication failed: bad base64"))
                    return .handled
                }
                runSASL(exchange, .respond(decoded), connection)
                return .handled
            }
            handle(tokens, connection, input: input)
        }
        return .handled
    }

    // MARK: Commands

    private func handle(_ tokens: [ManageSieveToken], _ connection: Connection<ManageSieveDriver>, input: ByteBuffer) {
        guard case .atom(let word)? = tokens.first else {
            connection.write(no("Expected a command"))
            return
        }
        let command = word.uppercased()
        let args = Array(tokens.dropFirst())
        Counter(label: "swallow_commands_total", dimensions: [("protocol", "managesieve"), ("command", command)]).increment()
        func string(_ n: Int) -> String? {
            guard n < args.count, case .string(let bytes) = args[n] else { return nil }
            return String(validating: bytes, as: UTF8.self)
        }
        switch (command, account) {
        case ("CAPABILITY", _):
            connection.write(capabilities() + ok("Capability completed"))
        case ("NOOP", _):
            connection.write(ok(string(0).map { "NOOP \($0)" } ?? "Done"))
        case ("LOGOUT", _):
            connection.close(ok("Logout completed"))
        case ("STARTTLS", nil) where tlsAvailable && !tlsActive:
            if connection.startTLS(ready: ok("Begin TLS negotiation"), refusal: Self.line("BYE", "Pipelined data after STARTTLS"),
                                   input: input) {
                tlsActive = true
                parser = ManageSieveParser(maxLine: parser.maxLine, maxLiteral: parser.maxLiteral)
                // RFC 5804 §2.2: the capabilities again, now that TLS is on.
                connection.write(capabilities() + ok("TLS negotiation successful"))
            }
        case ("AUTHENTICATE", nil):
            guard let name = string(0), let mechanism = SASLMechanismName(caseInsensitive: name) else {
                connection.write(no("Unsupported mechanism"))
                return
            }
            guard services.policy.allows(mechanism, tlsActive: tlsActive) else {
                connection.write(no(code: "ENCRYPT-NEEDED", "Use STARTTLS first"))
                return
            }
            var initial: [UInt8]?
            if args.count > 1 {
                guard case .string(let text) = args[1], let decoded = Base64.decode(text) else {
                    connection.write(no("Bad initial response"))
                    return
                }
                initial = decoded
            }
            runSASL(SASLExchange(mechanism: mechanism, authenticator: services.authenticator, client: connection.clientIP),
                    .start(initial), connection)
        case ("UNAUTHENTICATE", .some):
            account = nil
            connection.write(ok("Logged out"))
        case (_, nil) where Self.authenticatedCommands.contains(command):
            connection.write(no("Log in first"))
        case (_, .some(let account)) where Self.authenticatedCommands.contains(command):
            scriptCommand(command, args, account: account, connection)
        default:
            connection.write(no("Unknown or unexpected command \(command.prefix(40))"))
        }
    }

    static let authenticatedCommands: Set<String> = [
        "HAVESPACE", "PUTSCRIPT", "LISTSCRIPTS", "SETACTIVE", "GETSCRIPT", "DELETESCRIPT", "RENAMESCRIPT", "CHECKSCRIPT",
    ]

    /// The script commands: checked here, carried out off the event loop.
    private func scriptCommand(_ command: String, _ args: [ManageSieveToken], account: Account, _ connection: Connection<ManageSieveDriver>) {
        var strings: [String] = []
        var number: Int?
        for a in args {
            switch a {
            case .string(let bytes):
                guard let s = String(validating: bytes, as: UTF8.self) else {
                    connection.write(no("Strings must be UTF-8"))
                    return
                }
                strings.append(s)
            case .number(let n): number = n
            case .atom: break
            }
        }
        let needed = ["HAVESPACE": 1, "PUTSCRIPT": 2, "LISTSCRIPTS": 0, "SETACTIVE": 1, "GETSCRIPT": 1,
                      "DELETESCRIPT": 1, "RENAMESCRIPT": 2, "CHECKSCRIPT": 1][command] ?? 0
        guard strings.count == needed, command != "HAVESPACE" || number != nil else {
            connection.write(no("\(command): wrong arguments"))
            return
        }
        // Checking needs no store: answer at once.
        if command == "CHECKSCRIPT" || command == "PUTSCRIPT" {
            let source = strings[needed - 1]
            do {
                _ = try SieveScript(parsing: source)
            } catch {
                connection.write(no("\(error)"))
                return
            }
            if command == "CHECKSCRIPT" {
                connection.write(ok("Script is valid"))
                return
            }
        }
        let scripts = services.scripts, user = account.id
        let maxBytes = type(of: scripts).maxSieveScriptBytes, maxScripts = type(of: scripts).maxSieveScripts
        busy = true
        connection.run({ [strings, number] () -> [UInt8] in
            do {
                switch command {
                case "HAVESPACE":
                    let existing = try await scripts.sieveScripts(user)
                    if number ?? 0 > maxBytes { return Self.line("NO", code: "QUOTA/MAXSIZE", "Script too large") }
                    if !existing.contains(where: { $0.name == strings[0] }), existing.count >= maxScripts {
                        return Self.line("NO", code: "QUOTA/MAXSCRIPTS", "Too many scripts")
                    }
                    return Self.line("OK", "Putscript would succeed")
                case "PUTSCRIPT":
                    try await scripts.putSieveScript(user, named: strings[0], source: strings[1])
                    return Self.line("OK", "Script stored")
                case "LISTSCRIPTS":
                    var out: [UInt8] = []
                    for s in try await scripts.sieveScripts(user) {
                        out += Self.quoted(s.name) + (s.active ? Array(" ACTIVE".utf8) : []) + [13, 10]
                    }
                    return out + Self.line("OK", "Listscripts completed")
                case "SETACTIVE":
                    try await scripts.activateSieveScript(user, named: strings[0].isEmpty ? nil : strings[0])
                    return Self.line("OK", strings[0].isEmpty ? "No script active" : "Script activated")
                case "GETSCRIPT":
                    let source = Array(try await scripts.sieveScript(user, named: strings[0]).utf8)
                    return Array("{\(source.count)}\r\n".utf8) + source + [13, 10] + Self.line("OK", "Getscript completed")
                case "DELETESCRIPT":
                    try await scripts.deleteSieveScript(user, named: strings[0])
                    return Self.line("OK", "Script deleted")
                case "RENAMESCRIPT":
                    try await scripts.renameSieveScript(user, from: strings[0], to: strings[1])
                    return Self.line("OK", "Script renamed")
                default:
                    return Self.line("NO", "Unknown command")
                }
            } catch {
                return Self.refusal(error as? StoreError ?? .temporary("\(error)"))
            }
        }, then: { driver, connection, reply in
            driver.busy = false
            connection.write(reply)
        })
    }

    /// RFC 5804 §1.3 response codes for the store's refusals.
    static func refusal(_ error: StoreError) -> [UInt8] {
        switch error {
        case .notFound: line("NO", code: "NONEXISTENT", "No such script")
        case .exists: line("NO", code: "ALREADYEXISTS", "A script with that name exists")
        case .notPermitted(let why) where why.contains("active"): line("NO", code: "ACTIVE", "That is the active script")
        case .notPermitted: line("NO", code: "QUOTA/MAXSCRIPTS", "Too many scripts")
        case .tooLarge: line("NO", code: "QUOTA/MAXSIZE", "Script too large")
        case .invalidName: line("NO", "Bad script name")
        default: line("NO", code: "TRYLATER", "Temporary failure")
        }
    }

    // MARK: SASL

    private func runSASL(_ exchange: SASLExchange, _ input: SASLExchange.Input, _ connection: Connection<ManageSieveDriver>) {
        busy = true
        connection.run(cancellable: true, { await SASLExchange.advance(exchange, input) }, then: { driver, connection, result in
            driver.busy = false
            let (step, exchange) = result
            switch step {
            case .challenge(let bytes):
                driver.pendingSASL = exchange
                connection.write(Self.quoted(Base64.encodedString(bytes)) + [13, 10])
            case .authenticated(let account):
                driver.account = account
                connection.loggedIn()
                connection.logger[metadataKey: "user"] = "\(account.address)"
                connection.logger.info("authenticated", metadata: ["mechanism": "\(exchange.mechanism.rawValue)"])
                connection.write(Self.line("OK", "Logged in"))
            case .rejected, .malformed, .aborted:
                driver.failures += 1
                connection.logger.notice("authentication failed", metadata: ["mechanism": "\(exchange.mechanism.rawValue)"])
                if driver.failures >= Self.maxFailures {
                    connection.close(Self.line("BYE", "Too many failed logins"))
                } else {
                    connection.write(Self.line("NO", "Authentication failed"))
                }
            case .unavailable(let why):
                connection.logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
                connection.write(Self.line("NO", code: "TRYLATER", "Authentication unavailable"))
            }
        })
    }

    // MARK: Responses

    private func capabilities() -> [UInt8] {
        var lines: [(String, String?)] = [("IMPLEMENTATION", "Swallow"), ("SIEVE", SieveScript.extensions.joined(separator: " "))]
        let mechanisms = services.policy.offeredMechanisms(tlsActive: tlsActive).map(\.rawValue)
        if account == nil { lines.append(("SASL", mechanisms.joined(separator: " "))) }
        if tlsAvailable && !tlsActive && account == nil { lines.append(("STARTTLS", nil)) }
        lines.append(("MAXREDIRECTS", "4"))
        lines.append(("VERSION", "1.0"))
        var out: [UInt8] = []
        for (name, value) in lines {
            out += Self.quoted(name)
            if let value { out += [UInt8(ascii: " ")] + Self.quoted(value) }
            out += [13, 10]
        }
        return out
    }

    private func ok(_ text: String) -> [UInt8] { Self.line("OK", text) }
    private func no(code: String? = nil, _ text: String) -> [UInt8] { Self.line("NO", code: code, text) }

    static func line(_ status: String, code: String? = nil, _ text: String) -> [UInt8] {
        Array("\(status)\(code.map { " (\($0))" } ?? "") ".utf8) + quoted(text) + [13, 10]
    }

    /// A quoted string (RFC 5804 §4): `"` and `\` escaped, line ends never inside.
    static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in text.utf8 where b != 13 && b != 10 {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
