import ArgumentParser
import Foundation
import MailCore
import MailQueue
import SwallowRuntime

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "The outbound queue (like postqueue).", subcommands: [List.self, Flush.self, Delete.self])

    static func open(_ options: ConfigOption) throws -> OutboundQueue {
        let config = try options.load()
        return try OutboundQueue(path: config.dataFile("queue.sqlite"))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queued messages: id, size, arrival, sender, recipients with attempts and last error.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                let entries = try await QueueCommand.open(options).list()
                let iso = ISO8601DateFormatter()
                // Addresses and remote replies came from the network: escaped, so none can
                // repaint the terminal or forge a line of this listing.
                for e in entries {
                    say("\(e.id)\t\(e.size)\t\(iso.string(from: e.arrival))\t<\(LogSafe.escape(e.sender))>")
                    for r in e.recipients {
                        let state = r.state == .pending ? "next attempt \(iso.string(from: r.nextAttempt))" : "\(r.state)"
                        let why = r.lastError.map { "\t" + LogSafe.escape($0) } ?? ""
                        say("\t<\(LogSafe.escape(r.address))>\tattempts \(r.attempts)\t\(state)\(why)")
                    }
                }
                if entries.isEmpty { say("queue is empty") }
            }
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make every deferred recipient due now.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                let n = try await QueueCommand.open(options).flush()
                say("\(n) recipients due now")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a queued message.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                guard let queueID = QueueID(id.uppercased()) else { throw CLIError("'\(id)' is not a queue ID") }
                try await QueueCommand.open(options).delete(queueID)
                say("deleted \(queueID)")
            }
        }
    }
}
