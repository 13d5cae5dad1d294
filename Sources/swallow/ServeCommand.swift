import ArgumentParser
import Foundation
import Logging
import SwallowRuntime

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start every configured listener (creates ./swallow-data with defaults when there is no config).")

    @OptionGroup var options: ConfigOption
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical); overrides [log] level.")
    var logLevel: String?

    func run() async throws {
        try await reporting {
            let override = try logLevel.map { text throws -> Logger.Level in
                guard let level = Logger.Level(rawValue: text.lowercased()) else {
                    throw CLIError("--log-level: '\(text)' is not one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return level
            }
            if options.isDefault, !FileManager.default.fileExists(atPath: options.config) {
                // First start on embedded defaults: domain localhost, SQLite, a self-signed
                // certificate, listeners on loopback only.
                let dir = (options.config as NSString).deletingLastPathComponent
                var init_ = DataDirectory.Options(directory: dir, domain: "localhost", hostname: "localhost")
                init_.publicHost = "127.0.0.1"
                try await DataDirectory.initialize(init_)
                // The command as it was run (`.build/debug/swallow` under `swift run`), so the hint works.
                let me = CommandLine.arguments.first.map { $0.contains("/") ? $0 : "swallow" } ?? "swallow"
                say("swallow: created \(options.config) (domain localhost); add a user with '\(me) user add you@localhost'")
            }
            let config = try options.load()
            let level = override ?? config.log.level
            switch config.log.format {
            case .text:
                LoggingSystem.bootstrap { label in
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                }
            case .json:
                LoggingSystem.bootstrap { _ in
                    var handler = JSONLogHandler()
                    handler.logLevel = level
                    return handler
                }
            }
            var logger = Logger(label: "swallow")
            logger.logLevel = level
            let runtime = try Runtime(configuration: config, logger: logger)
            try await runtime.run(announce: say)
        }
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a data directory: configuration, database and a self-signed certificate.")

    @Option(help: "The data directory to create.") var data: String
    @Option(help: "The first local mail domain.") var domain: String
    @Option(help: "The server's host name (EHLO name, certificate); defaults to the domain.") var hostname: String?

    func run() async throws {
        try await reporting {
            let config = try await DataDirectory.initialize(.init(directory: data, domain: domain, hostname: hostname))
            say("created \(config.sourcePath)")
            say("database \(config.databasePath), certificate \(config.certificatePath)")
        }
    }
}
