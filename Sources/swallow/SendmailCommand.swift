import ArgumentParser
import Delivery
import Foundation
import Logging
import MailCore
import NIOCore
import NIOPosix
import SwallowRuntime

/// `swallow sendmail` (and the binary run as `sendmail` or `mailq`): the Unix mail submission
/// interface that cron, PHP's `mail()`, mailx/s-nail and logwatch use. The message goes to the
/// running server's SMTP listener on loopback, so it takes the same acceptance path as any
/// other mail (queue ID, trace header, relay policy: loopback is a trusted network by default).
struct SendmailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendmail",
        abstract: "Queue a message read on standard input, like /usr/sbin/sendmail (-t, -i, -f, -F, -bs, -bp).",
        discussion: """
            Talks to the running server's SMTP listener on loopback. The configuration is --config, \
            else $SWALLOW_CONFIG, else ./swallow-data/swallow.toml. Exit status as sendmail: 0 queued, \
            64 usage, 67 recipient refused, 75 try again later (server not running).
            """)

    @Argument(parsing: .captureForPassthrough, help: "sendmail options and recipients")
    var arguments: [String] = []

    // sysexits.h, as sendmail and Postfix's sendmail use them.
    static let usage: Int32 = 64, noUser: Int32 = 67, tempFail: Int32 = 75

    func run() async throws {
        let invocation: SendmailInvocation
        do {
            invocation = try SendmailInvocation.parse(arguments)
        } catch {
            fail("\(error)", Self.usage)
        }
        let path = invocation.config ?? ProcessInfo.processInfo.environment["SWALLOW_CONFIG"] ?? ConfigOption.defaultPath
        var options = ConfigOption()
        options.config = path
        // The configuration may be readable by the server's group only (it can hold the
        // smarthost password): a user who cannot read it gets the standard listener addresses.
        let config = try? options.load()
        if config == nil && FileManager.default.isReadableFile(atPath: path) {
            do { _ = try options.load() } catch { fail("cannot read the configuration: \(error)", Self.usage) }
        }
        switch invocation.mode {
        case .listQueue:
            try await QueueCommand.List.print(options: options, json: false, destination: nil)
        case .smtp:
            try await relaySMTP(to: Self.servers(config))
        case .deliver:
            try await deliver(invocation, config: config)
        }
    }

    /// Where the server listens for SMTP, reachable on this machine: the configured listener,
    /// or without a readable configuration the standard port and its unprivileged variant.
    static func servers(_ config: SwallowConfiguration?) -> [(host: String, port: Int)] {
        guard let config else { return [("127.0.0.1", 25), ("127.0.0.1", 10025)] }
        guard let first = (config.listen.smtp.first ?? config.listen.submission.first)?.reachable else { return [("127.0.0.1", 25)] }
        return [(first.host, first.port)]
    }

    static func hostname(_ config: SwallowConfiguration?) -> String {
        if let config { return config.server.hostname }
        var buffer = [CChar](repeating: 0, count: 256)
        return gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "localhost"
    }

    private func deliver(_ invocation: SendmailInvocation, config: SwallowConfiguration?) async throws {
        let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        let message: SendmailMessage
        do {
            message = try SendmailMessage.prepare(input, invocation: invocation, user: Self.loginName(), hostname: Self.hostname(config))
        } catch {
            fail("\(error)", Self.usage)
        }
        var notify: [String: String] = [:]
        if let n = invocation.notify { for r in message.recipients { notify[r] = n.uppercased() } }
        let envelope = SMTPClient.Envelope(sender: message.sender, recipients: message.recipients, message: message.bytes,
                                           eightBit: message.bytes.contains { $0 >= 0x80 },
                                           envelopeID: invocation.envelopeID, returnFull: invocation.ret?.uppercased() == "FULL",
                                           notify: notify)
        // Not our host name: the server refuses to relay for a client greeting with its own name
        // (that is its own outbound delivery come back, a loop).
        var clientConfiguration = SMTPClient.Configuration(heloName: "localhost")
        clientConfiguration.tls = .none  // loopback, to ourselves
        clientConfiguration.connectTimeout = .seconds(10)
        clientConfiguration.commandTimeout = .seconds(60)
        let client = SMTPClient(configuration: clientConfiguration)
        let quiet = Logger(label: "sendmail", factory: { _ in SwiftLogNoOpLogHandler() })
        var outcomes: [(recipient: String, outcome: SMTPClient.Outcome)] = []
        candidates: for (host, port) in Self.servers(config) {
            switch await client.open(host: host, port: port, logger: quiet) {
            case .failed(let outcome, let reachedPeer):
                outcomes = message.recipients.map { ($0, outcome) }
                // Nothing listens there: the next candidate; a server that answered: done.
                if reachedPeer { break candidates }
            case .ready(let connection):
                outcomes = await connection.send(envelope).outcomes
                connection.close()
                break candidates
            }
        }
        var worst: Int32 = 0
        for (recipient, outcome) in outcomes {
            switch outcome {
            case .delivered:
                break
            case .permanent(let why):
                warn("<\(recipient)>: \(why)")
                worst = max(worst, Self.noUser)
            case .temporary(let why):
                warn("<\(recipient)>: not queued, try again later: \(why)")
                worst = max(worst, Self.tempFail)
            }
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The invoking user's login name (the default sender's local part, as sendmail's).
    static func loginName() -> String {
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "nobody"
    }

    /// `-bs`: the client speaks SMTP on our standard input and output; we carry the bytes to
    /// and from the server's listener until either side closes.
    private func relaySMTP(to servers: [(host: String, port: Int)]) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var connected: (any Channel)?
        for server in servers where connected == nil {
            // Not reading until the other side's relay is in place: no byte is dropped.
            connected = try? await ClientBootstrap(group: group).channelOption(.autoRead, value: false)
                .connect(host: server.host, port: server.port).get()
        }
        guard let socket = connected else {
            fail("cannot reach the server at \(servers.map { "\($0.host):\($0.port)" }.joined(separator: ", ")): is it running?",
                 Self.tempFail)
        }
        let pipe = try await NIOPipeBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { pipe in pipe.eventLoop.makeCompletedFuture { try pipe.pipeline.syncOperations.addHandler(ByteRelay(to: socket)) } }
            .takingOwnershipOfDescriptors(input: dup(0), output: dup(1)).get()
        try await socket.eventLoop.submit {
            try socket.pipeline.syncOperations.addHandler(ByteRelay(to: pipe))
            socket.setOption(.autoRead, value: true).whenComplete { _ in socket.read() }
        }.get()
        try? await socket.closeFuture.get()
        try? await pipe.close()
    }

    private func fail(_ message: String, _ code: Int32) -> Never {
        FileHandle.standardError.write(Data("sendmail: \(LogSafe.escape(message))\n".utf8))
        Foundation.exit(code)
    }
}

/// Writes what one channel reads to the other; the end of one side's input closes the other's
/// output (the SMTP client finished), and a closed side closes the other.
final class ByteRelay: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let peer: any Channel

    init(to peer: any Channel) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            peer.close(mode: .output, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }
}
