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
            if json { return say(try QueueJSON.encode(entries)) }
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
                try await QueueCommand.open(options).hold(queueID)
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
                try await QueueCommand.open(options).release(queueID)
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
                try await QueueCommand.open(options).delete(queueID)
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
                let config = try options.load()
                let queue = try QueueCommand.open(options)
                let queueID = try QueueCommand.queueID(id)
                let m = try await queue.message(queueID)
                var failed = m.recipients.filter { $0.state == .pending }
                guard !failed.isEmpty else { throw CLIError("\(queueID) has no pending recipient") }
                for i in failed.indices {
                    failed[i].state = .failed
                    // RFC 3463 X.0.0 with the reason; the last remote answer is kept beside it.
                    failed[i].lastError = "5.0.0 returned to sender by the administrator"
                        + (failed[i].lastError.map { " (last attempt: \($0))" } ?? "")
                }
                let report = Bounces.failure(m, failed: failed, hostname: config.server.hostname)
                try await queue.record(queueID, failed, enqueue: report.map { [$0] } ?? [])
                say("returned \(queueID) to <\(LogSafe.escape(m.sender))>" + (report.map { " (report \($0.id))" } ?? " (null sender: no report)"))
            }
        }
    }
}

/// `swallow queue list --json`.
enum QueueJSON {
    struct Recipient: Encodable {
        let address: String
        let state: String
        let attempts: Int
        let next_attempt: String
        let last_error: String?
    }

    struct Message: Encodable {
        let id: String
        let sender: String
        let size: Int
        let arrival: String
        let held: Bool
        let recipients: [Recipient]
    }

    static func encode(_ entries: [QueueSummary]) throws -> String {
        let iso = ISO8601DateFormatter()
        let messages = entries.map { e in
            Message(id: e.id.rawValue, sender: e.sender, size: e.size, arrival: iso.string(from: e.arrival), held: e.held,
                    recipients: e.recipients.map { r in
                        Recipient(address: r.address, state: "\(r.state)", attempts: r.attempts,
                                  next_attempt: iso.string(from: r.nextAttempt), last_error: r.lastError)
                    })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(messages), as: UTF8.self)
    }
}
