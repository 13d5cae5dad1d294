import CompressNIO
import NIOCore
import NIOEmbedded
import Testing
@testable import ServerSupport

@Suite("COMPRESS=DEFLATE handler")
struct DeflateHandlerTests {
    static func deflate(_ bytes: [UInt8]) throws -> ByteBuffer {
        let compressor = try ZlibCompressor(algorithm: .deflate)
        var input = ByteBuffer(bytes: bytes)
        var out = ByteBufferAllocator().buffer(capacity: bytes.count + 1024)
        try compressor.deflate(from: &input, to: &out, flush: .sync)
        return out
    }

    static func inflate(_ buffer: ByteBuffer) throws -> [UInt8] {
        let decompressor = try ZlibDecompressor(algorithm: .deflate)
        var input = buffer
        var out = ByteBufferAllocator().buffer(capacity: 1 << 20)
        do { try decompressor.inflate(from: &input, to: &out) } catch let e as CompressNIOError where e == .inputBufferOverflow {}
        return Array(out.readableBytesView)
    }

    /// Both directions through a channel: what goes in compressed comes out plain, and what
    /// is written comes out as one sync-flushed deflate block a client can read at once.
    @Test func roundTrip() throws {
        let channel = EmbeddedChannel(handler: try DeflateHandler())
        let text = Array(String(repeating: "* 1 FETCH (FLAGS (\\Seen))\r\n", count: 2000).utf8)
        try channel.writeInbound(try Self.deflate(text))
        var received: [UInt8] = []
        while let part: ByteBuffer = try channel.readInbound() { received += part.readableBytesView }
        #expect(received == text)

        try channel.writeOutbound(ByteBuffer(bytes: text))
        var sent = ByteBuffer()
        while var part: ByteBuffer = try channel.readOutbound() { sent.writeBuffer(&part) }
        #expect(sent.readableBytes < text.count / 20, "compressed")
        #expect(try Self.inflate(sent) == text)
        #expect(try channel.finish().isClean)
    }

    /// A small compressed read that would expand past the limit is an error, not a buffer.
    @Test func inflationIsBounded() throws {
        let channel = EmbeddedChannel(handler: try DeflateHandler())
        let bomb = try Self.deflate([UInt8](repeating: 0, count: DeflateHandler.maxInflatePerRead + 1))
        #expect(bomb.readableBytes < 64 * 1024)
        #expect(throws: DeflateHandler.InflateLimit.self) { try channel.writeInbound(bomb) }
        _ = try? channel.finish()
    }
}
