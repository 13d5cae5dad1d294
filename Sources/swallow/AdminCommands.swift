import Admin
import ArgumentParser
import Foundation
import MailCore
import MailQueue
import SwallowRuntime

/// `swallow admin`: the console's and API's accounts.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Console and API accounts (served on listen.admin).",
        subcommands: [Add.self, List.self, Token.self, Passwd.self, Remove.self])

    static func accounts(_ options: ConfigOption) throws -> AdminAccounts {
        try AdminAccounts(path: options.load().dataFile("admin.sqlite"))
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an admin; prints an API token, shown this once (only its hash is kept).")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        func run() async throws {
            try await reporting {
                let accounts = try AdminCommand.accounts(options)
                let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
                let token = try await accounts.add(name, password: password)
                await options.audit("admin.add", name)
                say("added admin \(name)")
                say("token: \(token)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admins (never their tokens).")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                for a in try await AdminCommand.accounts(options).list() {
                    say("\(a.name)\tcreated \(a.created.formatted(.iso8601))\t\(a.tokens) API token(s)")
                }
            }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make another API token for an admin, shown this once.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() async throws {
            try await reporting { say("token: \(try await AdminCommand.accounts(options).newToken(name))") }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an admin's console password.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        func run() async throws {
            try await reporting {
                let accounts = try AdminCommand.accounts(options)
                try await accounts.setPassword(name, password: PasswordInput.read(fromStdin: passwordStdin, confirm: true))
                await options.audit("admin.password", name)
                say("password changed for admin \(name)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an admin; its tokens stop working at once.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() async throws {
            try await reporting {
                try await AdminCommand.accounts(options).remove(name)
                await options.audit("admin.remove", name)
                say("removed admin \(name)")
            }
        }
    }
}

/// `swallow trace ID|ADDRESS|MESSAGE-ID`: every hop of the matching messages.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Every hop of a message: received, delivered, relayed, deferred, bounced.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "A queue ID, an address (sender or recipient) or a Message-ID.") var query: String
    @Option(help: "Only messages with events at or after this time (ISO 8601).") var since: String?
    @Option(help: "Only messages with events at or before this time (ISO 8601).") var until: String?
    @Flag(help: "One JSON array, as the admin API's /api/trace.") var json = false

    func run() async throws {
        try await reporting {
            let config = try options.load()
            guard let trace = try config.openTrace() else { throw CLIError("the trace is off ([trace] retention_days = 0)") }
            func date(_ text: String?) throws -> Date? {
                guard let text else { return nil }
                guard let d = try? Date(text, strategy: .iso8601) else { throw CLIError("'\(text)' is not an ISO 8601 time") }
                return d
            }
            let found = try await trace.find(query, since: date(since), until: date(until))
            if json { return say(String(decoding: try AdminJSON.encode(AdminJSON.trace(found)), as: UTF8.self)) }
            if found.isEmpty { return say("nothing traced for \(LogSafe.escape(query))") }
            for m in found {
                say("\(m.envelope.queueID)  from <\(LogSafe.escape(m.envelope.sender))>"
                    + (m.envelope.messageID.map { "  Message-ID <\(LogSafe.escape($0))>" } ?? ""))
                for e in m.events {
                    say("  \(e.time.formatted(.iso8601))  \(e.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  "
                        + LogSafe.escape(e.text))
                }
            }
        }
    }
}
