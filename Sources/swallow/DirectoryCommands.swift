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
                say("removed domain \(domain.lowercased())")
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Mail accounts.", subcommands: [Add.self, List.self, Passwd.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account (its domain must be local).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The address, also the login name.") var address: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @Option(help: "Storage quota, e.g. 500M or 2G (default: unlimited).") var quota: String?

        func run() async throws {
            try await reporting {
                let backend = try options.backend()
                let canonical = try DirectoryAddress.canonical(address)
                let quotaBytes = try quota.map(parseSize) ?? 0
                guard let (_, domain) = DirectoryAddress.split(canonical), try await backend.directory.isLocalDomain(domain) else {
                    throw DirectoryError.unknownDomain(DirectoryAddress.split(canonical)?.domain ?? address)
                }
                guard try await backend.directory.account(login: canonical) == nil else { throw DirectoryError.userExists(canonical) }
                let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
                let secrets = try StoredSecrets(password: password, scramIterations: options.load().auth.scramIterations)
                let account = try await backend.directory.addUser(canonical, passwordHash: secrets.hash, scram: secrets.scram,
                                                                  quotaBytes: quotaBytes)
                try await backend.store.prepareAccount(account.id)
                say("added user \(account.address)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts with their storage use.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                let backend = try options.backend()
                for account in try await backend.directory.listUsers() {
                    let usage = try await backend.store.quotaUsage(account.id)
                    let limit = usage.limitBytes == 0 ? "unlimited" : formatSize(usage.limitBytes)
                    say("\(account.address)\t\(usage.messages) messages\t\(formatSize(usage.bytes)) of \(limit)")
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
                let backend = try options.backend()
                guard let account = try await backend.directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
                let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
                let secrets = try StoredSecrets(password: password, scramIterations: options.load().auth.scramIterations)
                try await backend.directory.setPassword(account.address, passwordHash: secrets.hash, scram: secrets.scram)
                say("password changed for \(account.address)")
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
                say("removed alias \(alias)")
            }
        }
    }
}

/// "500M", "2G", "1024" -> bytes.
func parseSize(_ text: String) throws -> Int64 {
    let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(text.uppercased())
    var multiplier: Int64 = 1
    if digits.last == "B" { digits = digits.dropLast() }
    if let last = digits.last, let unit = units[last] {
        multiplier = unit
        digits = digits.dropLast()
    }
    guard let value = Int64(digits), value >= 0, value <= Int64.max / multiplier else {
        throw CLIError("'\(text)' is not a size (examples: 500M, 2G)")
    }
    return value * multiplier
}

func formatSize(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
