import ArgumentParser
import Delivery
import Foundation
import Logging
import MailCore
import NIOCore
import NIOPosix
import SwallowRuntime

/// `swallow demo`: the classic architecture end to end on loopback. Two mail domains, each its
/// own Swallow instance, routed to each other; alice@a.test submits to bob@b.test; the message
/// crosses by SMTP and bob reads it over IMAP and POP3. Every hop is printed from the servers'
/// own logs, followed by its queue ID.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run two mail domains on loopback and send a message across, showing every hop.")

    @Option(help: "Keep the demo's data directories here instead of a temporary directory.") var keep: String?

    func run() async throws {
        try await reporting {
            let root = keep ?? (NSTemporaryDirectory() + "swallow-demo-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { if keep == nil { try? FileManager.default.removeItem(atPath: root) } }
            let demo = try Demo(root: root)
            defer { demo.stop() }
            try await demo.run()
        }
    }
}

/// One Swallow instance of the demo, run as a child process like an administrator would.
final class DemoInstance: @unchecked Sendable {
    let domain: String
    let dir: String
    let ports: [String: Int]
    var process: Process?
    var log: String { dir + "/swallow.log" }
    var config: String { dir + "/swallow.toml" }

    init(domain: String, root: String, ports: [String: Int]) {
        self.domain = domain
        self.dir = root + "/" + domain
        self.ports = ports
    }

    func setUp(peer: DemoInstance, user: String, password: String) async throws {
        _ = try await DataDirectory.initialize(.init(directory: dir, domain: domain, hostname: "mx.\(domain)"))
        var text = try String(contentsOfFile: config, encoding: .utf8)
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let key = line.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) ?? ""
            if let port = ports[key] {
                lines.append("\(key) = [\"127.0.0.1:\(port)\"]")
            } else if ["smtp", "submission", "submissions", "lmtp", "imap", "imaps", "pop3", "pop3s", "managesieve", "admin"].contains(key) {
                lines.append("\(key) = []")
            } else if key == "allow_plaintext_without_tls" {
                // Loopback only: the demo reads mail without TLS so the transcript stays readable.
                lines.append("allow_plaintext_without_tls = true")
            } else if key == "nameservers" {
                lines.append("nameservers = [\"127.0.0.1:1\"]")  // the demo needs no DNS
            } else {
                lines.append(String(line))
            }
            if line.hasPrefix("[transport]") {
                // The next hop for the other domain: its SMTP listener (Postfix: transport_maps).
                lines.append("\"\(peer.domain)\" = \"127.0.0.1:\(peer.ports["smtp"]!)\"")
            }
        }
        text = lines.joined(separator: "\n")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        try run(["user", "add", "\(user)@\(domain)", "--password-stdin", "--config", config], stdin: password + "\n")
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.selfPath)
        p.arguments = ["serve", "--config", config]
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        process = p
        var seen = ""
        while !seen.contains("running") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw CLIError("the \(domain) instance did not start; see \(log)") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
    }

    func stop() {
        guard let p = process, p.isRunning else { return }
        p.terminate()
        p.waitUntilExit()
    }

    /// Log lines about one queue ID, for the hop-by-hop account.
    func logLines(containing needle: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            .filter { $0.contains(needle) }
    }

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.selfPath)
        p.arguments = arguments
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CLIError("swallow \(arguments.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self)
    }

    static var selfPath: String {
        let arg0 = CommandLine.arguments[0]
        if arg0.contains("/") { return URL(fileURLWithPath: arg0).standardizedFileURL.path }
        return "/proc/self/exe"
    }
}

struct Demo {
    let a: DemoInstance
    let b: DemoInstance

    init(root: String) throws {
        func ports() throws -> [String: Int] {
            try Dictionary(uniqueKeysWithValues: ["smtp", "submission", "imap", "pop3"].map { ($0, try Demo.freePort()) })
        }
        a = DemoInstance(domain: "a.test", root: root, ports: try ports())
        b = DemoInstance(domain: "b.test", root: root, ports: try ports())
    }

    func stop() {
        a.stop()
        b.stop()
    }

    func step(_ n: Int, _ title: String) { say("\n[\(n)] \(title)") }
    func show(_ lines: [String]) { for l in lines { say("    " + l) } }

    func run() async throws {
        let started = Date()
        let alicePassword = "alice-\(UInt32.random(in: 0...UInt32.max))"
        let bobPassword = "bob-\(UInt32.random(in: 0...UInt32.max))"
        step(0, "Two mail domains on loopback: a.test and b.test, each its own Swallow instance")
        try await a.setUp(peer: b, user: "alice", password: alicePassword)
        try await b.setUp(peer: a, user: "bob", password: bobPassword)
        try a.start()
        try b.start()
        for i in [a, b] {
            say("    \(i.domain): smtp 127.0.0.1:\(i.ports["smtp"]!), submission :\(i.ports["submission"]!), imap :\(i.ports["imap"]!), pop3 :\(i.ports["pop3"]!); [transport] routes the other domain to its smtp port")
        }

        step(1, "Submission: alice@a.test -> bob@b.test on a.test's submission port (STARTTLS + AUTH PLAIN)")
        let subject = "Hello from a.test \(UInt32.random(in: 0...UInt32.max))"
        let message = "From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: \(subject)\r\nDate: \(RFC5322Date.format(Date()))\r\n"
            + "Message-ID: <demo.\(getpid())@a.test>\r\n\r\nHi Bob,\r\nthis crossed from a.test to b.test.\r\n"
        var configuration = SMTPClient.Configuration(heloName: "demo-client.a.test")
        configuration.tls = .required(verify: false)
        configuration.credentials = ("alice@a.test", alicePassword)
        let client = SMTPClient(configuration: configuration)
        let result = await client.send(SMTPClient.Envelope(sender: "alice@a.test", recipients: ["bob@b.test"], message: Array(message.utf8)),
                                       host: "127.0.0.1", port: a.ports["submission"]!, logger: Logger(label: "demo"))
        guard case .delivered(let reply) = result.outcomes.first?.outcome else {
            throw CLIError("submission failed: \(result.outcomes.first.map { "\($0.outcome)" } ?? "no outcome")")
        }
        say("    TLS: \(result.usedTLS ? "yes" : "no"); server said: \(reply.code) \(reply.enhanced.map { "\($0) " } ?? "")\(reply.text)")
        guard let queueID = reply.text.split(separator: " ").last.map(String.init) else { throw CLIError("no queue ID") }

        step(2, "Queue: a.test accepted it durably as \(queueID) (its log)")
        show(a.logLines(containing: queueID).filter { $0.contains("accepted") || $0.contains("queued") })

        step(3, "Next hop: a.test's queue routes b.test (its log)")
        var deadline = Date().addingTimeInterval(30)
        while a.logLines(containing: queueID).filter({ $0.contains("delivered") }).isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        show(a.logLines(containing: queueID).filter { $0.contains("routing") })

        step(4, "Remote acceptance: b.test's SMTP server answered a.test (a.test's log)")
        let remote = a.logLines(containing: queueID).filter { $0.contains("delivered") || $0.contains("deferred") || $0.contains("bounced") }
        show(remote)
        guard remote.contains(where: { $0.contains("delivered") }) else { throw CLIError("the message did not cross; see \(a.log)") }

        step(5, "Delivery: b.test put it in bob's INBOX (b.test's log; its own queue ID is in the Received header)")
        deadline = Date().addingTimeInterval(10)
        var bLines: [String] = []
        while bLines.isEmpty && Date() < deadline {
            bLines = b.logLines(containing: "bob@b.test").filter { $0.contains("delivered") }
            if bLines.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        show(bLines)

        step(6, "Retrieval over IMAP: bob logs in to b.test and fetches it")
        let imap = try await LineClient.connect(port: b.ports["imap"]!)
        show(try await imap.exchange(nil, until: "* OK"))
        show(try await imap.exchange("a LOGIN bob@b.test \(bobPassword)", until: "a ").map { $0.replacingOccurrences(of: bobPassword, with: "****") })
        show(try await imap.exchange("b SELECT INBOX", until: "b "))
        show(try await imap.exchange("c FETCH 1 (ENVELOPE BODY[TEXT])", until: "c "))
        show(try await imap.exchange("d LOGOUT", until: "d "))

        step(7, "Retrieval over POP3: the same message from bob's maildrop")
        let pop = try await LineClient.connect(port: b.ports["pop3"]!)
        show(try await pop.exchange(nil, until: "+OK"))
        show(try await pop.exchange("USER bob@b.test", until: "+OK"))
        show(try await pop.exchange("PASS \(bobPassword)", until: "+OK").map { $0.replacingOccurrences(of: bobPassword, with: "****") })
        show(try await pop.exchange("STAT", until: "+OK"))
        show(try await pop.exchange("TOP 1 0", until: ".").filter { line in
            ["C: ", "S: Subject", "S: Received", "S: \t", "S: +OK", "S: ."].contains { line.hasPrefix($0) }
        })
        show(try await pop.exchange("QUIT", until: "+OK"))

        say(String(format: "\nDone in %.1f s: submission, queue, next hop, remote acceptance, delivery, IMAP and POP3 retrieval.", Date().timeIntervalSince(started)))
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A plain line-oriented client for the demo's IMAP and POP3 transcripts.
final class LineClient: @unchecked Sendable {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var pending = ""

    private init(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) {
        self.channel = channel
        self.iterator = channel.inbound.makeAsyncIterator()
    }

    /// NIOAsyncChannel's writer must be finished before it goes away (a precondition in debug
    /// builds); the server may not have closed its side yet when the demo is done with it.
    deinit {
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }

    static func connect(port: Int) async throws -> LineClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { ch in
                ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
            }
        return LineClient(channel)
    }

    /// Sends `line` (if any) and returns the lines received up to and including the first that
    /// starts with `prefix`; the client's own line comes first, marked with "C:".
    func exchange(_ line: String?, until prefix: String) async throws -> [String] {
        var shown: [String] = []
        if let line {
            try await channel.outbound.write(ByteBuffer(string: line + "\r\n"))
            shown.append("C: " + line)
        }
        while true {
            // "\r\n" is one Character in Swift, so look for either form of line end.
            while let newline = pending.firstIndex(where: { $0 == "\r\n" || $0 == "\n" }) {
                let l = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                shown.append("S: " + l)
                if l.hasPrefix(prefix) { return shown }
            }
            guard let chunk = try await iterator.next() else { return shown + ["(connection closed)"] }
            pending += String(buffer: chunk)
        }
    }
}
