import Admin
import ArgumentParser
import Foundation

/// `swallow sieve`: users' Sieve filters (RFC 5228), as ManageSieve manages them.
struct SieveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sieve", abstract: "Users' Sieve filter scripts.",
        subcommands: [Put.self, List.self, Get.self, Activate.self, Deactivate.self, Delete.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a script (checked first: an error names its line and column).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The user's address.") var address: String
        @Argument(help: "The script file ('-' for standard input).") var file: String
        @Option(help: "The script's name.") var name: String = "default"
        @Flag(help: "Make it the active script.") var activate = false

        func run() async throws {
            try await reporting {
                let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                    : try Data(contentsOf: URL(fileURLWithPath: file))
                guard let source = String(data: data, encoding: .utf8) else { throw CLIError("\(file) is not UTF-8") }
                try await options.administration().putSieveScript(address, named: name, source: source, activate: activate)
                await options.audit("sieve.put", "\(address) \(name)")
                say("stored script \(name) for \(address)\(activate ? " (active)" : "")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A user's scripts; the active one is marked.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        func run() async throws {
            try await reporting {
                let scripts = try await options.administration().sieveScripts(address)
                for s in scripts { say("\(s.name)\t\(s.size) bytes\(s.active ? "\tactive" : "")") }
                if scripts.isEmpty { say("no scripts (swallow sieve put \(address) FILE)") }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a script.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        @Argument var name: String = "default"
        func run() async throws {
            try await reporting {
                print(try await options.administration().sieveScript(address, named: name), terminator: "")
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a script the one that runs at delivery.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        @Argument var name: String = "default"
        func run() async throws {
            try await reporting {
                try await options.administration().activateSieveScript(address, named: name)
                await options.audit("sieve.activate", "\(address) \(name)")
                say("\(name) is active for \(address)")
            }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run no script: mail is kept in INBOX.")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        func run() async throws {
            try await reporting {
                try await options.administration().activateSieveScript(address, named: nil)
                await options.audit("sieve.deactivate", address)
                say("no script is active for \(address)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a script (not the active one).")
        @OptionGroup var options: ConfigOption
        @Argument var address: String
        @Argument var name: String
        func run() async throws {
            try await reporting {
                try await options.administration().deleteSieveScript(address, named: name)
                await options.audit("sieve.delete", "\(address) \(name)")
                say("deleted script \(name) of \(address)")
            }
        }
    }
}
