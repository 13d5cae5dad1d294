import Logging
import NIOCore
import NIOPosix

/// Sends one question to the configured nameservers and returns the response that answers it.
/// `DNSResolver` builds on this; tests substitute an in-memory zone.
public protocol DNSTransport: Sendable {
    /// A response whose RCODE is NOERROR or NXDOMAIN; every other outcome is a `DNSError`.
    func query(_ question: DNSQuestion) async throws(DNSError) -> DNSMessage
}

/// The NIO transport: UDP first (RFC 1035 §4.2.1), TCP when the answer comes back truncated
/// (RFC 7766 §5), each nameserver in order for `attempts` rounds with `timeout` per try.
///
/// Spoofing resistance (RFC 5452): every query has a random ID and a fresh socket on a random
/// ephemeral port; datagrams from any other address, with another ID, or with a question that
/// differs from ours are dropped without ending the wait, so a forged packet cannot cut a lookup
/// short. ICMP errors are ignored for the same reason (they are as easy to forge).
public final class DNSClient: DNSTransport {
    public let configuration: ResolverConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    public init(configuration: ResolverConfiguration,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "swallow.dns")) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
    }

    public func query(_ question: DNSQuestion) async throws(DNSError) -> DNSMessage {
        var failure: DNSError?
        for _ in 0..<configuration.attempts {
            for server in configuration.nameservers {
                do {
                    let response = try await exchange(question, with: server)
                    switch response.responseCode {
                    case .noError, .nameError:
                        return response
                    case .refused:
                        record(.refused, into: &failure)
                    default:
                        // SERVFAIL, NOTIMP, FORMERR after the EDNS retry, and unknown RCODEs:
                        // another nameserver may do better.
                        record(.serverFailure, into: &failure)
                    }
                    logger.debug("DNS query failed", metadata: [
                        "dns.question": "\(question)", "dns.server": "\(server)", "dns.rcode": "\(response.responseCode)",
                    ])
                } catch {
                    logger.debug("DNS query failed", metadata: [
                        "dns.question": "\(question)", "dns.server": "\(server)", "dns.error": "\(error)",
                    ])
                    record(error, into: &failure)
                }
                if Task.isCancelled { throw .network("cancelled") }
            }
        }
        throw failure ?? .timeout
    }

    /// Keeps the most telling failure: anything a server actually said beats a timeout.
    private func record(_ error: DNSError, into failure: inout DNSError?) {
        if failure == nil || error != .timeout { failure = error }
    }

    /// One question to one nameserver: UDP, then TCP on TC=1; without EDNS again on FORMERR,
    /// NOTIMP or BADVERS to an EDNS query (RFC 6891 §7).
    func exchange(_ question: DNSQuestion, with server: Nameserver) async throws(DNSError) -> DNSMessage {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: server.address.description, port: server.port)
        } catch {
            throw .network("bad nameserver address \(server)")
        }
        var edns = configuration.ednsPayloadSize
        while true {
            let query = DNSMessage.query(id: UInt16.random(in: 0...UInt16.max), name: question.name, type: question.type,
                                         ednsPayloadSize: edns)
            let response: DNSMessage
            if configuration.alwaysTCP {
                response = try await tcpExchange(query, to: address)
            } else {
                let udp = try await udpExchange(query, to: address)
                if udp.header.isTruncated {
                    guard configuration.tcpFallback else { throw .truncatedWithoutTCP }
                    let retry = DNSMessage.query(id: UInt16.random(in: 0...UInt16.max), name: question.name,
                                                 type: question.type, ednsPayloadSize: edns)
                    do {
                        response = try await tcpExchange(retry, to: address)
                    } catch {
                        logger.debug("DNS TCP fallback failed", metadata: ["dns.server": "\(server)", "dns.error": "\(error)"])
                        throw .truncatedWithoutTCP
                    }
                } else {
                    response = udp
                }
            }
            let code = response.responseCode
            if edns != nil, code == .formatError || code == .notImplemented || code == .badVersion {
                edns = nil
                continue
            }
            return response
        }
    }

    private var timeoutAmount: TimeAmount {
        let (seconds, attoseconds) = configuration.timeout.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func udpExchange(_ query: DNSMessage, to server: SocketAddress) async throws(DNSError) -> DNSMessage {
        let bytes: [UInt8]
        do {
            bytes = try DNSEncoder.encode(query)
        } catch {
            throw .invalidName("query does not encode: \(error)")
        }
        let loop = group.next()
        let promise = loop.makePromise(of: DNSMessage.self)
        let timeout = timeoutAmount
        let logger = self.logger
        // A fresh socket per query: the kernel picks a random ephemeral port (RFC 5452 §9.2).
        let bootstrap = DatagramBootstrap(group: loop)
            // NIO reads datagrams into 2048-octet buffers by default; a server that ignores our
            // EDNS size (or a configured size above 2048) must not have its answer cut by the kernel.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSLimits.maxMessageSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPExchangeHandler(query: query, queryBytes: bytes, server: server, timeout: timeout,
                                           promise: promise, logger: logger))
                }
            }
        do {
            _ = try await bootstrap.bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        } catch {
            promise.fail(error)
            throw .network("cannot open a UDP socket: \(error)")
        }
        return try await Self.wait(for: promise)
    }

    func tcpExchange(_ query: DNSMessage, to server: SocketAddress) async throws(DNSError) -> DNSMessage {
        let bytes: [UInt8]
        do {
            bytes = try DNSEncoder.encode(query)
        } catch {
            throw .invalidName("query does not encode: \(error)")
        }
        let loop = group.next()
        let promise = loop.makePromise(of: DNSMessage.self)
        let timeout = timeoutAmount
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPExchangeHandler(query: query, queryBytes: bytes, timeout: timeout, promise: promise))
                }
            }
        do {
            _ = try await bootstrap.connect(to: server).get()
        } catch {
            promise.fail(error)
            if let channelError = error as? ChannelError, case .connectTimeout = channelError { throw .timeout }
            throw .network("TCP connection to \(server) failed: \(error)")
        }
        return try await Self.wait(for: promise)
    }

    private static func wait(for promise: EventLoopPromise<DNSMessage>) async throws(DNSError) -> DNSMessage {
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(DNSError.network("cancelled"))
            }
        } catch let error as DNSError {
            throw error
        } catch {
            throw .network("\(error)")
        }
    }
}

/// Owns one UDP socket for one query: sends it, drops every datagram that is not the answer
/// (RFC 5452 §9.1), and completes the promise with the answer or a timeout.
final class UDPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let query: DNSMessage
    let queryBytes: [UInt8]
    let server: SocketAddress
    let timeout: TimeAmount
    let promise: EventLoopPromise<DNSMessage>
    let logger: Logger
    var timeoutTask: Scheduled<Void>?
    /// A datagram from the server with our ID that did not parse: reported instead of a bare
    /// timeout, so a broken server is told apart from a silent one.
    var parseProblem: String?
    var finished = false

    init(query: DNSMessage, queryBytes: [UInt8], server: SocketAddress, timeout: TimeAmount,
         promise: EventLoopPromise<DNSMessage>, logger: Logger) {
        self.query = query
        self.queryBytes = queryBytes
        self.server = server
        self.timeout = timeout
        self.promise = promise
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.finish(context: context, .failure(self.parseProblem.map { DNSError.malformed($0) } ?? .timeout))
        }
        let envelope = AddressedEnvelope(remoteAddress: server, data: context.channel.allocator.buffer(bytes: queryBytes))
        context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { error in
            self.finish(context: context, .failure(.network("send to \(self.server) failed: \(error)")))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else {
            logger.debug("DNS: dropped datagram from an unexpected address",
                         metadata: ["dns.from": "\(envelope.remoteAddress)", "dns.server": "\(server)"])
            return
        }
        let bytes = Array(envelope.data.readableBytesView)
        guard let header = try? DNSParser.parseHeader(bytes), header.id == query.header.id else {
            logger.debug("DNS: dropped datagram with a wrong ID", metadata: ["dns.server": "\(server)"])
            return
        }
        let message: DNSMessage
        do {
            message = try DNSParser.parse(bytes)
        } catch {
            parseProblem = error.description
            return
        }
        do {
            try message.validate(asResponseTo: query)
        } catch {
            logger.debug("DNS: dropped datagram that does not answer our query",
                         metadata: ["dns.server": "\(server)", "dns.mismatch": "\(error)"])
            return
        }
        finish(context: context, .success(message))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP-induced errors and the like: as forgeable as a datagram, so they do not end the wait.
        logger.debug("DNS: UDP socket error ignored", metadata: ["dns.error": "\(error)"])
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .failure(.network("UDP socket closed")))
        context.fireChannelInactive()
    }

    func finish(context: ChannelHandlerContext, _ result: Result<DNSMessage, DNSError>) {
        guard !finished else { return }
        finished = true
        timeoutTask?.cancel()
        promise.completeWith(result.mapError { $0 as any Error })
        context.close(promise: nil)
    }
}

/// One query over one TCP connection (RFC 1035 §4.2.2: each message prefixed by a two-octet
/// length; RFC 7766 §8). Here, unlike UDP, the connection is ours alone, so a response that does
/// not match is malformed rather than ignored.
final class TCPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let query: DNSMessage
    let queryBytes: [UInt8]
    let timeout: TimeAmount
    let promise: EventLoopPromise<DNSMessage>
    var timeoutTask: Scheduled<Void>?
    var received: [UInt8] = []
    var finished = false

    init(query: DNSMessage, queryBytes: [UInt8], timeout: TimeAmount, promise: EventLoopPromise<DNSMessage>) {
        self.query = query
        self.queryBytes = queryBytes
        self.timeout = timeout
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.finish(context: context, .failure(.timeout))
        }
        var buffer = context.channel.allocator.buffer(capacity: queryBytes.count + 2)
        buffer.writeInteger(UInt16(queryBytes.count))
        buffer.writeBytes(queryBytes)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenFailure { error in
            self.finish(context: context, .failure(.network("TCP send failed: \(error)")))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let buffer = unwrapInboundIn(data)
        received += buffer.readableBytesView
        guard received.count >= 2 else { return }
        let length = Int(received[0]) << 8 | Int(received[1])
        // The two-octet length bounds what we buffer: at most 65537 octets.
        guard received.count >= 2 + length else { return }
        let bytes = Array(received[2..<(2 + length)])
        let message: DNSMessage
        do {
            message = try DNSParser.parse(bytes)
        } catch {
            finish(context: context, .failure(.malformed(error.description)))
            return
        }
        do {
            try message.validate(asResponseTo: query)
        } catch {
            finish(context: context, .failure(.malformed("TCP response does not match the query (\(error))")))
            return
        }
        finish(context: context, .success(message))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context: context, .failure(.network("TCP: \(error)")))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .failure(.network("TCP connection closed before a full response")))
        context.fireChannelInactive()
    }

    func finish(context: ChannelHandlerContext, _ result: Result<DNSMessage, DNSError>) {
        guard !finished else { return }
        finished = true
        timeoutTask?.cancel()
        promise.completeWith(result.mapError { $0 as any Error })
        context.close(promise: nil)
    }
}
