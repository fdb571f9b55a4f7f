import CompressNIO
import Foundation
import NIOCore

/// gzip for sync bodies (`Content-Encoding: gzip`, both ways), through compress-nio.
public enum BodyCompression {
    /// Bodies smaller than this go as they are: gzip's header would cost more than it saves.
    public static let minimumBytes = 1024

    /// gzip at a fast level: a page is mostly text that compresses about 3:1 already at level 1,
    /// and the hub compresses every page it serves.
    public static func gzip(_ bytes: [UInt8]) throws -> ByteBuffer {
        var input = ByteBuffer(bytes: bytes)
        return try input.compress(with: .gzip(configuration: .init(compressionLevel: .compressionLevel2)))
    }

    public static func gzip(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip(configuration: .init(compressionLevel: .compressionLevel2)))
    }

    /// Inflates a gzip body, refusing one that inflates past `limit` bytes (a zip bomb).
    public enum InflateError: Error {
        case tooLarge
        case corrupt
    }

    /// Inflates a gzip body 64 KiB at a time, refusing it as soon as it passes `limit` bytes:
    /// memory never follows what a body claims to inflate to.
    public static func gunzip(_ buffer: ByteBuffer, limit: Int) throws -> ByteBuffer {
        let inflater: ZlibDecompressor
        do { inflater = try ZlibDecompressor(algorithm: .gzip) } catch { throw InflateError.corrupt }
        var input = buffer
        var output = ByteBufferAllocator().buffer(capacity: min(limit, max(input.readableBytes * 4, 64 * 1024)))
        var window = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        while true {
            window.clear()
            let before = input.readableBytes
            var finished = false
            do {
                try inflater.inflate(from: &input, to: &window)
                finished = true
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The window is full: more output follows.
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                finished = true  // the input ended before the stream did: what it holds is what there is
            } catch {
                throw InflateError.corrupt
            }
            guard output.readableBytes + window.readableBytes <= limit else { throw InflateError.tooLarge }
            output.writeBuffer(&window)
            if finished { return output }
            if window.readerIndex == 0, window.writerIndex == 0, input.readableBytes == before { throw InflateError.corrupt }
        }
    }
}
