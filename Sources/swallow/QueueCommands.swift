import Admin
import ArgumentParser
import Delivery
import Foundation
import MailCore
import MailQueue
import SwallowRuntime

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "The outbound queue (like postqueue and postsuper).",
        subcommands: [List.self, Show.self, Flush.self, Hold.self, Release.self, Delete.self, Bounce.self])

    static func open(_ options: ConfigOption) throws -> OutboundQueue {
        let config = try options.load()
        return try OutboundQueue(path: config.dataFile("queue.sqlite"))
    }

    static func queueID(_ text: String) throws -> QueueID {
        guard let id = QueueID(text.uppercased()) else { throw CLIError("'\(text)' is not a queue ID") }
        return id
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queued messages: id, size, arrival, sender, recipients with attempts and last error.")
        @OptionGroup var options: ConfigOption
        @Flag(help: "One JSON array, for scripts.") var json = false
        @Option(help: "Only messages with a recipient in this domain.") var destination: String?
        func run() async throws {
            try await reporting { try await Self.print(options: options, json: json, destination: destination) }
        }

        /// Also `mailq` and `sendmail -bp`.
        static func print(options: ConfigOption, json: Bool, destination: String?) async throws {
            let entries = try await QueueCommand.open(options).list(destination: destination)
            if json { return say(String(decoding: try AdminJSON.encode(AdminJSON.queue(entries)), as: UTF8.self)) }
            let iso = ISO8601DateFormatter()
            // Addresses and remote replies came from the network: escaped, so none can
            // repaint the terminal or forge a line of this listing.
            for e in entries {
                say("\(e.id)\t\(e.size)\t\(iso.string(from: e.arrival))\t<\(LogSafe.escape(e.sender))>\(e.held ? "\theld" : "")")
                for r in e.recipients {
                    let state = r.state == .pending ? (e.held ? "held" : "next attempt \(iso.string(from: r.nextAttempt))") : "\(r.state)"
                    let why = r.lastError.map { "\t" + LogSafe.escape($0) } ?? ""
                    say("\t<\(LogSafe.escape(r.address))>\tattempts \(r.attempts)\t\(state)\(why)")
                }
            }
            if entries.isEmpty { say("queue is empty") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A queued message: envelope, recipients and its header.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                let m = try await QueueCommand.open(options).message(QueueCommand.queueID(id))
                let iso = ISO8601DateFormatter()
                say("id: \(m.id)")
                say("sender: <\(LogSafe.escape(m.sender))>")
                say("arrival: \(iso.string(from: m.arrival))")
                say("size: \(m.bytes.count)")
                if m.held { say("held: yes") }
                for r in m.recipients {
                    let state = r.state == .pending ? "pending, next attempt \(iso.string(from: r.nextAttempt))" : "\(r.state)"
                    say("recipient: <\(LogSafe.escape(r.address))> \(state), attempts \(r.attempts)"
                        + (r.lastError.map { ": " + LogSafe.escape($0) } ?? ""))
                }
                say("")
                // The header section only: the body may be large or binary.
                let header = m.bytes.prefix(MessageHeader.parse(m.bytes).bodyOffset)
                for line in String(decoding: header, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false) {
                    say(LogSafe.escape(String(line)))
                }
            }
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make deferred recipients due now: all, one message's, or one domain's.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String?
        @Option(help: "Only recipients in this domain.") var destination: String?
        func run() async throws {
            try await reporting {
                let queueID = try id.map(QueueCommand.queueID)
                let n = try await QueueCommand.open(options).flush(queueID, destination: destination)
                await options.audit("queue.flush", id ?? destination ?? "all")
                say("\(n) recipients due now")
            }
        }
    }

    struct Hold: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Keep a message in the queue without attempting it.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                let queueID = try QueueCommand.queueID(id)
                try await options.administering { try await $0.hold(id, by: "the command line") }
                await options.audit("queue.hold", queueID.rawValue)
                say("held \(queueID)")
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a held message; it is attempted now.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                let queueID = try QueueCommand.queueID(id)
                try await options.administering { try await $0.release(id, by: "the command line") }
                await options.audit("queue.release", queueID.rawValue)
                say("released \(queueID)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a queued message (no report to the sender).")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                let queueID = try QueueCommand.queueID(id)
                try await options.administering { try await $0.delete(id, by: "the command line") }
                await options.audit("queue.delete", queueID.rawValue)
                say("deleted \(queueID)")
            }
        }
    }

    struct Bounce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return a message to its sender now: its pending recipients fail with a delivery report.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String
        func run() async throws {
            try await reporting {
                let (m, report) = try await options.administering { admin in
                    (try await admin.queuedMessage(id), try await admin.bounce(id, by: "the command line"))
                }
                await options.audit("queue.bounce", m.id.rawValue)
                say("returned \(m.id) to <\(LogSafe.escape(m.sender))>" + (report.map { " (report \($0))" } ?? " (null sender: no report)"))
            }
        }
    }
}
