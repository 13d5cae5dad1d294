import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import Filters

/// A scripted filter on a loopback port: decodes every command, records it, and answers with
/// what `answer` returns for it (nothing: no reply).
final class ScriptedMilter: Sendable {
    final class Recorder: Sendable {
        let commands = Mutex<[MilterCommand]>([])
    }

    let recorder = Recorder()
    let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    var address: ScannerAddress { .tcp(host: "127.0.0.1", port: server.channel.localAddress!.port!) }

    /// `answer` gets each command; `raw` (when set) is written instead of the encoded replies.
    init(_ answer: @escaping @Sendable (MilterCommand) -> [MilterReply], raw: (@Sendable (MilterCommand) -> [UInt8]?)? = nil) async throws {
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        Self.serve(server, recorder, answer, raw)
    }

    private static func serve(_ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, _ recorder: Recorder,
                              _ answer: @escaping @Sendable (MilterCommand) -> [MilterReply],
                              _ raw: (@Sendable (MilterCommand) -> [UInt8]?)?) {
        Task {
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    Task { try await Self.handle(connection, recorder, answer, raw) }
                }
            }
        }
    }

    private static func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ recorder: Recorder,
                               _ answer: @Sendable (MilterCommand) -> [MilterReply],
                               _ raw: (@Sendable (MilterCommand) -> [UInt8]?)?) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var buffer = ByteBuffer()
            for try await var chunk in inbound {
                buffer.writeBuffer(&chunk)
                while let (code, data) = try MilterCodec.nextPacket(&buffer) {
                    let command = try MilterCodec.decodeCommand(code: code, data: data)
                    recorder.commands.withLock { $0.append(command) }
                    if let bytes = raw?(command) {
                        try await outbound.write(ByteBuffer(bytes: bytes))
                        continue
                    }
                    let replies = answer(command)
                    if !replies.isEmpty { try await outbound.write(MilterCodec.encode(replies)) }
                    if command == .quit { return }
                }
            }
        }
    }

    deinit { server.channel.close(promise: nil) }

    var commands: [MilterCommand] { recorder.commands.withLock { $0 } }

    /// A filter that negotiates everything, continues at every step and answers the end of
    /// the message with `atEnd`.
    static func answering(_ atEnd: [MilterReply], options: MilterProtocolOptions = []) async throws -> ScriptedMilter {
        try await ScriptedMilter { command in
            switch command {
            case .negotiate: [.negotiate(MilterNegotiation(version: 6, actions: .all, options: options))]
            case .macros, .abort, .quit: []
            case .endOfMessage: atEnd
            // What it said it would not answer (SMFIP_NR_*), it does not.
            case .header where options.contains(.noReplyHeader), .body where options.contains(.noReplyBody): []
            default: [.continue]
            }
        }
    }
}

@Suite("milter client and pipeline")
struct MilterClientTests {
    static let logger = Logger(label: "milter-test")

    static func transaction() -> MilterTransaction {
        var t = MilterTransaction(message: MilterMessage(Array("Received: ours\r\nSubject: hi\r\n\r\nbody\r\n".utf8), hiddenFields: 1))
        t.clientIP = "127.0.0.1"
        t.helo = "client"
        t.sender = "a@example.test"
        t.recipients = ["b@example.test", "c@example.test"]
        t.queueID = "Q1"
        return t
    }

    static func filters(_ milters: [ScriptedMilter], timeout: Duration = .seconds(10),
                        defaultAction: ContentFilterConfiguration.FailurePolicy = .tempfail) -> ContentFilters {
        ContentFilters(ContentFilterConfiguration(milters: milters.map {
            var m = ContentFilterConfiguration.Milter(address: $0.address)
            m.timeout = timeout
            m.defaultAction = defaultAction
            return m
        }))
    }

    /// Over a real socket: the edits of a filter's answer, and the conversation ended with QUIT.
    @Test(.timeLimit(.minutes(1))) func conversationOverTCP() async throws {
        let milter = try await ScriptedMilter.answering([.progress, .addHeader(name: "X-Checked", value: Array("yes".utf8)), .continue],
                                                        options: [.noReplyHeader, .noReplyBody])
        let outcome = try await MilterClient(address: milter.address, timeout: .seconds(10)).converse(MilterConversation(Self.transaction()))
        #expect(outcome == MilterOutcome(decision: .accept, modifications: [.addHeader(name: "X-Checked", value: Array("yes".utf8))]))
        try await Self.eventually { milter.commands.last == .quit }
        #expect(milter.commands.contains(.header(name: "Subject", value: Array("hi".utf8))))
        #expect(!milter.commands.contains { if case .header(let name, _) = $0 { name == "Received" } else { false } })
    }

    static func eventually(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }

    /// Two filters in order: the second sees the first's header, sender and recipients.
    @Test(.timeLimit(.minutes(1))) func milterChain() async throws {
        let first = try await ScriptedMilter.answering([
            .addHeader(name: "X-First", value: Array("1".utf8)),
            .changeSender("<new@example.test>", parameters: nil),
            .deleteRecipient("<C@example.test>"),
            .addRecipient("<d@example.test>"),
            .quarantine(reason: "looks odd"),
            .accept,
        ])
        let second = try await ScriptedMilter.answering([.replaceBody(Array("replaced\n".utf8)), .continue])
        let verdict = await Self.filters([first, second]).runMilters(Self.transaction(), logger: Self.logger)
        #expect(verdict.decision == .accept)
        #expect(verdict.sender == "new@example.test")
        #expect(verdict.recipients == ["b@example.test", "d@example.test"])
        #expect(verdict.quarantine == ["looks odd"])
        #expect(verdict.message.map { String(decoding: $0, as: UTF8.self) } == "Received: ours\r\nSubject: hi\r\nX-First: 1\r\n\r\nreplaced\r\n")
        let secondSaw = second.commands
        #expect(secondSaw.contains(.header(name: "X-First", value: Array("1".utf8))))
        #expect(secondSaw.contains(.mail(["<new@example.test>"])))
        #expect(secondSaw.contains(.recipient(["<d@example.test>"])))
        #expect(!secondSaw.contains(.recipient(["<c@example.test>"])))
    }

    /// A refusal at RCPT drops one recipient; a refusal at the end refuses the message.
    @Test(.timeLimit(.minutes(1))) func refusals() async throws {
        let custom = MilterSMTPReply(code: 554, enhanced: [5, 7, 1], lines: ["Gtube pattern"])
        let perRecipient = try await ScriptedMilter { command in
            switch command {
            case .negotiate: [.negotiate(MilterNegotiation(version: 6, actions: .all, options: []))]
            case .recipient(let args) where args == ["<c@example.test>"]: [.reject]
            case .macros, .abort, .quit: []
            default: [.continue]
            }
        }
        let one = await Self.filters([perRecipient]).runMilters(Self.transaction(), logger: Self.logger)
        #expect(one.decision == .accept && one.recipients == ["b@example.test"])
        #expect(one.refusedRecipients == [.init(address: "c@example.test", reply: MilterConversation.rejected)])
        #expect(one.message == nil, "no edits, no copy")

        let refusing = try await ScriptedMilter.answering([.replyCode(custom)])
        #expect(await Self.filters([refusing]).runMilters(Self.transaction(), logger: Self.logger).decision == .refuse(custom))
        let discarding = try await ScriptedMilter.answering([.discard])
        #expect(await Self.filters([discarding]).runMilters(Self.transaction(), logger: Self.logger).decision == .discard)
    }

    /// Down, silent, closing early, or talking nonsense: the default action decides.
    @Test(.timeLimit(.minutes(1))) func failuresTakeTheDefaultAction() async throws {
        let closing = try await ScriptedMilter({ _ in [] }, raw: { command in
            if case .negotiate = command { return [0, 0, 0, 13, UInt8(ascii: "O"), 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0] }
            return [0, 0, 0, 2, UInt8(ascii: "c"), 7]  // CONTINUE with a stray octet
        })
        let silent = try await ScriptedMilter { _ in [] }
        let unknown = try await ScriptedMilter({ _ in [] }, raw: { _ in [0, 0, 0, 1, UInt8(ascii: "Z")] })
        // A port nobody listens on: bind one, note it, close it.
        let gone = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let gonePort = gone.localAddress!.port!
        try await gone.close()

        for (name, address) in [("malformed", closing.address), ("silent", silent.address), ("unknown reply", unknown.address),
                                ("down", ScannerAddress.tcp(host: "127.0.0.1", port: gonePort))] {
            var config = ContentFilterConfiguration.Milter(address: address)
            config.timeout = .milliseconds(500)
            let tempfail = await ContentFilters(ContentFilterConfiguration(milters: [config])).runMilters(Self.transaction(), logger: Self.logger)
            #expect(tempfail.decision == .refuse(ContentFilters.milterUnavailable), "\(name)")
            config.defaultAction = .accept
            let accepted = await ContentFilters(ContentFilterConfiguration(milters: [config])).runMilters(Self.transaction(), logger: Self.logger)
            #expect(accepted.decision == .accept && accepted.message == nil && accepted.recipients.count == 2, "\(name)")
        }
        let error = await #expect(throws: ScannerUnavailable.self) {
            try await MilterClient(address: silent.address, timeout: .milliseconds(300)).converse(MilterConversation(Self.transaction()))
        }
        #expect(error?.description.contains("no answer within") == true, "\(error?.description ?? "")")
    }
}
