import CompressNIO
import NIOCore

/// IMAP COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib header) both ways, on top of
/// TLS when TLS is on. Output is compressed as written and sync-flushed at each flush, so every
/// response reaches the client whole (RFC 4978 §4 asks for a flush "when the server has
/// finished writing").
final class DeflateHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One read of compressed input may expand to at most this much: deflate reaches about
    /// 1000:1, and a client that sends more than this in one read is refused, not buffered.
    static let maxInflatePerRead = 16 * 1024 * 1024
    static let outputChunk = 64 * 1024

    struct InflateLimit: Error {}

    private let compressor: ZlibCompressor
    private let decompressor: ZlibDecompressor
    private var pending: ByteBuffer?
    private var pendingPromises: [EventLoopPromise<Void>] = []
    /// Written since the last flush: only then is a sync flush worth its 5 bytes.
    private var unflushed = false

    init() throws {
        compressor = try ZlibCompressor(algorithm: .deflate)
        decompressor = try ZlibDecompressor(algorithm: .deflate)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        var produced = 0
        do {
            while input.readableBytes > 0 {
                var out = context.channel.allocator.buffer(capacity: Self.outputChunk)
                var needMoreInput = false
                do {
                    try decompressor.inflate(from: &input, to: &out)
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // `out` is full; more follows in the next buffer.
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    needMoreInput = true
                }
                produced += out.readableBytes
                guard produced <= Self.maxInflatePerRead else { throw InflateLimit() }
                if out.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(out)) }
                if needMoreInput || (out.readableBytes == 0 && input.readableBytes == 0) { break }
            }
        } catch {
            context.fireErrorCaught(error)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var input = unwrapOutboundIn(data)
        do {
            try deflate(&input, flush: .no, allocator: context.channel.allocator)
            unflushed = true
            if let promise { pendingPromises.append(promise) }
        } catch {
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard unflushed else { return context.flush() }
        unflushed = false
        var empty = context.channel.allocator.buffer(capacity: 0)
        do {
            try deflate(&empty, flush: .sync, allocator: context.channel.allocator)
        } catch {
            context.fireErrorCaught(error)
            return
        }
        let promises = pendingPromises
        pendingPromises = []
        if let out = pending, out.readableBytes > 0 {
            pending = nil
            let done = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(out), promise: done)
            done.futureResult.whenComplete { result in promises.forEach { $0.completeWith(result) } }
        } else {
            promises.forEach { $0.succeed() }
        }
        context.flush()
    }

    /// Compresses `input` into `pending`, growing it when zlib runs out of room. zlib reports
    /// "no progress possible" (Z_BUF_ERROR, which CompressNIO calls bufferOverflow) also when
    /// there is nothing left to flush: that ends the loop when there is room.
    private func deflate(_ input: inout ByteBuffer, flush: CompressNIOFlush, allocator: ByteBufferAllocator) throws {
        var out = pending ?? allocator.buffer(capacity: Self.outputChunk)
        defer { pending = out }
        while true {
            if out.writableBytes < 64 { out.reserveCapacity(minimumWritableBytes: max(Self.outputChunk, input.readableBytes)) }
            let (read, written) = (input.readerIndex, out.writerIndex)
            do {
                try compressor.deflate(from: &input, to: &out, flush: flush)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                if out.writableBytes > 0 && input.readerIndex == read && out.writerIndex == written { return }
                continue
            }
            if input.readableBytes == 0 && out.writableBytes > 0 { return }
        }
    }
}
