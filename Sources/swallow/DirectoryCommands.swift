import Admin
import ArgumentParser
import Foundation
import MailAuth
import SwallowRuntime

struct DomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain", abstract: "Local mail domains.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a local domain.")
        @OptionGroup var options: ConfigOption
        @Argument var domain: String
        func run() async throws {
            try await reporting {
                try await options.backend().directory.addDomain(domain)
                await options.audit("domain.add", domain.lowercased())
                say("added domain \(domain.lowercased())")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List local domains.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                for d in try await options.backend().directory.listDomains() { say(d) }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a local domain that has no accounts.")
        @OptionGroup var options: ConfigOption
        @Argument var domain: String
        func run() async throws {
            try await reporting {
                try await options.backend().directory.removeDomain(domain)
                await options.audit("domain.remove", domain.lowercased())
                say("removed domain \(domain.lowercased())")
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Mail accounts.", subcommands: [Add.self, List.self, Passwd.self, Quota.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account (its domain must be local).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The address, also the login name.") var address: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @Option(help: "Storage quota, e.g. 500M or 2G (default: unlimited).") var quota: String?
        @Option(help: "Most messages the account may hold (default: unlimited).") var maxMessages: Int64?

        func run() async throws {
            try await reporting {
                let admin = try options.administration()
                let quotaBytes = try quota.map(ByteSize.parse) ?? 0
                guard (maxMessages ?? 0) >= 0 else { throw CLIError("--max-messages must not be negative") }
                // Checked before the password is asked for.
                let canonical = try DirectoryAddress.canonical(address)
                guard let (_, domain) = DirectoryAddress.split(canonical), try await admin.directory.isLocalDomain(domain) else {
                    throw DirectoryError.unknownDomain(DirectoryAddress.split(canonical)?.domain ?? address)
                }
                guard try await admin.directory.account(login: canonical) == nil else { throw DirectoryError.userExists(canonical) }
                let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
                let user = try await admin.addUser(canonical, password: password, quotaBytes: quotaBytes, maxMessages: maxMessages ?? 0)
                await options.audit("user.add", user.address)
                say("added user \(user.address)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts with their storage use.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                for user in try await options.administration().users() {
                    let limit = user.quota_bytes == 0 ? "unlimited" : ByteSize.format(user.quota_bytes)
                    let count = user.max_messages == 0 ? "\(user.messages) messages" : "\(user.messages) of \(user.max_messages) messages"
                    say("\(user.address)\t\(count)\t\(ByteSize.format(user.used_bytes)) of \(limit)")
                }
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's password.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        func run() async throws {
            try await reporting {
                let admin = try options.administration()
                guard let account = try await admin.directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
                try await admin.setPassword(account.address, password: PasswordInput.read(fromStdin: passwordStdin, confirm: true))
                await options.audit("user.password", account.address)
                say("password changed for \(account.address)")
            }
        }
    }

    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an account's limits (0 or 'unlimited' removes one); shows them when none is given.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        @Option(help: "Storage quota, e.g. 500M or 2G.") var quota: String?
        @Option(help: "Most messages the account may hold.") var maxMessages: Int64?
        func run() async throws {
            try await reporting {
                let admin = try options.administration()
                let bytes = try quota.map { $0.lowercased() == "unlimited" ? 0 : try ByteSize.parse($0) }
                guard (maxMessages ?? 0) >= 0 else { throw CLIError("--max-messages must not be negative") }
                if bytes != nil || maxMessages != nil {
                    try await admin.setQuota(address, bytes: bytes, maxMessages: maxMessages)
                    await options.audit("user.quota", address)
                }
                let user = try await admin.user(address)
                say("\(user.address): \(ByteSize.format(user.used_bytes)) of "
                    + (user.quota_bytes == 0 ? "unlimited" : ByteSize.format(user.quota_bytes))
                    + ", \(user.messages) of " + (user.max_messages == 0 ? "unlimited" : "\(user.max_messages)") + " messages")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account and all its mail.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        func run() async throws {
            try await reporting {
                try await options.backend().directory.removeUser(address)
                await options.audit("user.remove", address)
                say("removed user \(address)")
            }
        }
    }
}

struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias", abstract: "Aliases and catch-all addresses (@domain).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver mail for ALIAS to each TARGET.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "local@domain, or @domain for a catch-all.") var alias: String
        @Argument(help: "One or more target addresses (local or remote).") var targets: [String]
        func run() async throws {
            try await reporting {
                guard !targets.isEmpty else { throw CLIError("an alias needs at least one target") }
                try await options.backend().directory.addAlias(alias, targets: targets)
                await options.audit("alias.add", alias)
                say("alias \(alias) -> \(targets.joined(separator: ", "))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List aliases.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                for entry in try await options.backend().directory.listAliases() {
                    say("\(entry.source)\t\(entry.targets.joined(separator: ", "))")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an alias and all its targets.")
        @OptionGroup var options: ConfigOption
        @Argument var alias: String
        func run() async throws {
            try await reporting {
                try await options.backend().directory.removeAlias(alias)
                await options.audit("alias.remove", alias)
                say("removed alias \(alias)")
            }
        }
    }
}
