import NIOCore
import NIOPosix
import Synchronization

/// One conversation with a filter over TCP or a Unix socket: `MilterConversation` decides,
/// this sends its packets and reads the replies. Each reply must come within `timeout` of the
/// request (SMFIR_PROGRESS starts the wait again, as in Postfix's milter8_read_resp); a filter
/// that is down, slow, closes early or answers nonsense throws `ScannerUnavailable`.
public struct MilterClient: Sendable {
    public let address: ScannerAddress
    public let timeout: Duration

    public init(address: ScannerAddress, timeout: Duration) {
        self.address = address
        self.timeout = timeout
    }

    public func converse(_ conversation: MilterConversation,
                         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws(ScannerUnavailable) -> MilterOutcome {
        let deadline = Deadline(after: timeout)
        let address = self.address, timeout = self.timeout
        do {
            return try await withThrowingTaskGroup(of: MilterOutcome?.self) { tasks in
                tasks.addTask { try await Self.talk(address, conversation, timeout: timeout, deadline: deadline, group: group) }
                tasks.addTask {
                    try await deadline.wait()
                    return nil
                }
                defer { tasks.cancelAll() }
                guard let first = try await tasks.next(), let outcome = first else {
                    throw ScannerUnavailable("milter \(address): no answer within \(timeout.components.seconds) s")
                }
                return outcome
            }
        } catch let error as ScannerUnavailable {
            throw error
        } catch let error as MilterProtocolError {
            throw ScannerUnavailable("milter \(address): \(error)")
        } catch {
            throw ScannerUnavailable("milter \(address): \(error)")
        }
    }

    private static func talk(_ address: ScannerAddress, _ conversation: MilterConversation, timeout: Duration, deadline: Deadline,
                             group: any EventLoopGroup) async throws -> MilterOutcome {
        let channel = try await ScannerConnection.connect(address, timeout: timeout, group: group)
        // Cancelled by the deadline: closing the channel ends the read in progress.
        return try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                var conversation = conversation
                var replies = inbound.makeAsyncIterator()
                var buffer = ByteBuffer()
                var step = conversation.start()
                while true {
                    switch step {
                    case .send(let commands):
                        deadline.restart(timeout)
                        if !commands.isEmpty { try await outbound.write(MilterCodec.encode(commands)) }
                        step = try conversation.receive(try await nextReply(&replies, &buffer, from: address))
                    case .finish(let commands, let outcome):
                        // SMFIC_QUIT is a courtesy: the filter's verdict is in.
                        try? await outbound.write(MilterCodec.encode(commands))
                        return outcome
                    }
                }
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }

    private static func nextReply(_ replies: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, _ buffer: inout ByteBuffer,
                                  from address: ScannerAddress) async throws -> MilterReply {
        while true {
            if let (code, data) = try MilterCodec.nextPacket(&buffer) {
                return try MilterCodec.decodeReply(code: code, data: data)
            }
            guard var chunk = try await replies.next() else {
                throw ScannerUnavailable("milter \(address): connection closed in the middle of the conversation")
            }
            buffer.writeBuffer(&chunk)
        }
    }
}

/// When the reply being waited for is late: moved forward at every request, watched by a task
/// that returns once it has passed.
final class Deadline: Sendable {
    private let instant: Mutex<ContinuousClock.Instant>

    init(after duration: Duration) { instant = Mutex(.now + duration) }

    func restart(_ duration: Duration) { instant.withLock { $0 = .now + duration } }

    func wait() async throws {
        while true {
            let due = instant.withLock { $0 }
            if ContinuousClock.now >= due { return }
            try await Task.sleep(until: due, clock: .continuous)
        }
    }
}
