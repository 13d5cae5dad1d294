import NIOCore
import NIOPosix

/// Where a scanner listens: `host:port` or `unix:/path` (clamd's and spamd's local sockets).
public enum ScannerAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `127.0.0.1:3310`, `[::1]:783` or `unix:/run/clamav/clamd.ctl`.
    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// Why a scanner gave no verdict: the configured failure policy decides what the client hears.
public struct ScannerUnavailable: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One request/response exchange with a scanner (clamd, spamd and rspamd all answer and then
/// close): connect, write the request, read to the end of the stream, all within `timeout`.
/// The response is bounded: scanners answer in a few hundred bytes (rspamd's JSON in a few KiB).
enum ScannerConnection {
    static let maxResponse = 1 << 20

    static func exchange(_ address: ScannerAddress, request: [[UInt8]], timeout: Duration,
                         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws(ScannerUnavailable) -> [UInt8] {
        do {
            return try await withThrowingTaskGroup(of: [UInt8]?.self) { tasks in
                tasks.addTask { try await talk(address, request: request, timeout: timeout, group: group) }
                tasks.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { tasks.cancelAll() }
                guard let first = try await tasks.next(), let response = first else {
                    throw ScannerUnavailable("\(address): no answer within \(timeout.components.seconds) s")
                }
                return response
            }
        } catch let error as ScannerUnavailable {
            throw error
        } catch {
            throw ScannerUnavailable("\(address): \(error)")
        }
    }

    /// A connection to a scanner or milter over TCP or a Unix socket, as an async channel.
    static func connect(_ address: ScannerAddress, timeout: Duration,
                        group: any EventLoopGroup) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let bootstrap = ClientBootstrap(group: group).connectTimeout(.init(timeout))
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        switch address {
        case .tcp(let host, let port):
            return try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        case .unix(let path):
            return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
        }
    }

    private static func talk(_ address: ScannerAddress, request: [[UInt8]], timeout: Duration,
                             group: any EventLoopGroup) async throws -> [UInt8] {
        let channel = try await connect(address, timeout: timeout, group: group)
        // Cancelled by the deadline: closing the channel ends the read in progress.
        return try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                for part in request { try await outbound.write(ByteBuffer(bytes: part)) }
                var response: [UInt8] = []
                for try await chunk in inbound {
                    response += chunk.readableBytesView
                    guard response.count <= maxResponse else { throw ScannerUnavailable("\(address): response too large") }
                }
                return response
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}
