import Admin
import ArgumentParser
import Foundation
import MailAuthentication
import MailCore
import MailQueue
import SwallowRuntime

@main
struct Swallow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swallow",
        abstract: "A complete mail server: SMTP, LMTP, IMAP and POP3 in one program.",
        version: SwallowVersion.string,
        subcommands: [Serve.self, Init.self, DomainCommand.self, UserCommand.self, AliasCommand.self,
                      ImportCommand.self, ExportCommand.self, QueueCommand.self, SendmailCommand.self, StatusCommand.self, DoctorCommand.self, DemoCommand.self, AdminCommand.self, TraceCommand.self, DKIMCommand.self, DNSCommand.self, SieveCommand.self])

    /// Installed as `/usr/sbin/sendmail` or `mailq` (a symbolic link to this binary), it acts as
    /// `swallow sendmail` or `swallow queue list`, as Postfix's and mox's do.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch (CommandLine.arguments.first ?? "").split(separator: "/").last {
        case "sendmail": await main(["sendmail"] + arguments)
        case "mailq": await main(["sendmail", "-bp"] + arguments)
        default: await main(nil)
        }
    }
}

/// `--config PATH`, taken by every subcommand (DESIGN.md §3).
struct ConfigOption: ParsableArguments {
    static let defaultPath = "./swallow-data/swallow.toml"

    @Option(name: .long, help: "Configuration file.")
    var config: String = ConfigOption.defaultPath

    var isDefault: Bool { config == ConfigOption.defaultPath }

    func load() throws -> SwallowConfiguration {
        guard FileManager.default.fileExists(atPath: config) else {
            throw CLIError("no configuration at \(config): run 'swallow init --data DIR --domain DOMAIN' or 'swallow serve' first")
        }
        return try SwallowConfiguration.load(path: config)
    }

    func backend() throws -> Backend {
        try Backend.open(load())
    }

    /// Every change made from the command line is in the audit log, as the API's and the
    /// console's are, under "cli:" and the Unix user who ran it. A log that cannot be written
    /// does not undo the change: it is said on stderr.
    func audit(_ action: String, _ target: String) async {
        do {
            let accounts = try AdminAccounts(path: load().dataFile("admin.sqlite"))
            let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
            await accounts.audit("cli:\(user)", action, target)
        } catch {
            warn("the change was made but not written to the audit log: \(error)")
        }
    }

    /// What the CLI changes, through the same code as the admin API.
    func administration() throws -> Administration {
        let config = try load()
        let backend = try Backend.open(config)
        let trace = try? config.openTrace()
        return Administration(directory: backend.directory, store: backend.store,
                              queue: try OutboundQueue(path: config.dataFile("queue.sqlite")), trace: trace,
                              dkim: DKIMKeyring(directory: config.dkimDirectory),
                              hostname: config.server.hostname, scramIterations: config.auth.scramIterations)
    }

    /// Runs a change that the trace records (a queue action), then writes the trace before the
    /// command exits: the trace writes in the background, and a process that ends first loses
    /// what it recorded.
    func administering<T>(_ change: (Administration) async throws -> T) async throws -> T {
        let admin = try administration()
        let result = try await change(admin)
        await admin.trace?.flush()
        return result
    }
}

/// A one-line failure for the user: printed as `swallow: error: ...`, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension AsyncParsableCommand {
    /// Runs the command body and turns every error into one line on stderr and exit status 1,
    /// never a stack trace.
    func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("swallow: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Something the user should know that did not stop the command: one line on stderr.
func warn(_ line: String) {
    FileHandle.standardError.write(Data("swallow: warning: \(LogSafe.escape(line))\n".utf8))
}
