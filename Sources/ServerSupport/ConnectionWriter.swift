import NIOCore

/// Writes bytes to a connection from any task, in order, each call returning once the bytes
/// have been handed to the socket: a producer that awaits it cannot run ahead of a client that
/// reads slowly, so its memory stays bounded by what it writes at once. After the connection
/// closed (the client left, or the core closed it for a stall), `write` throws and the
/// producer stops its work (a FETCH or SEARCH loop for a client that is gone).
public struct ConnectionWriter: Sendable {
    public struct Closed: Error {}

    private let loopBound: NIOLoopBound<(AnyConnectionWriting, ChannelHandlerContext)>
    private let eventLoop: any EventLoop
    private let openFlag: OpenFlag

    init<D: ConnectionDriver>(handler: ConnectionHandler<D>, context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
        openFlag = handler.openFlag
        loopBound = NIOLoopBound((handler, context), eventLoop: context.eventLoop)
    }

    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let loopBound = self.loopBound
        let future: EventLoopFuture<Void> = eventLoop.flatSubmit {
            let (handler, context) = loopBound.value
            return handler.writeAndFlushFromWriter(context, bytes)
        }
        do { try await future.get() } catch { throw Closed() }
    }

    /// Whether the connection is still open (checked by long loops that write nothing, like
    /// SEARCH over a large mailbox).
    public func isOpen() async -> Bool {
        openFlag.isOpen
    }
}

/// The core handler's side of `ConnectionWriter`, without its driver type.
protocol AnyConnectionWriting: AnyObject {
    func writeAndFlushFromWriter(_ context: ChannelHandlerContext, _ bytes: [UInt8]) -> EventLoopFuture<Void>
    var isOpenForWriter: Bool { get }
}
