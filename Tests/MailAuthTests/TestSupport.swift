import Foundation

@testable import MailAuth
@_exported import TestSupport

typealias SeededGenerator = SeededRNG

extension SeededRNG {
    /// Random bytes biased towards the characters SASL grammars care about, so the fuzzer
    /// reaches deeper states than uniform noise would.
    mutating func grammarBytes(count: Int) -> [UInt8] {
        let interesting = Array("\0,=nyparcsimve2C3D+/biws".utf8)
        return (0..<count).map { _ in
            Bool.random(using: &self) ? interesting.randomElement(using: &self)! : UInt8.random(in: .min ... .max, using: &self)
        }
    }

    /// `message` with one random change: a flipped byte, an inserted byte, a removed byte or a
    /// truncation. Never returns `message` unchanged.
    mutating func mutate(_ message: [UInt8]) -> [UInt8] {
        var out = message
        switch Int.random(in: 0..<4, using: &self) {
        case 0 where !out.isEmpty:
            let index = Int.random(in: 0..<out.count, using: &self)
            out[index] ^= UInt8.random(in: 1 ... .max, using: &self)
        case 1:
            out.insert(UInt8.random(in: .min ... .max, using: &self), at: Int.random(in: 0...out.count, using: &self))
        case 2 where !out.isEmpty:
            out.remove(at: Int.random(in: 0..<out.count, using: &self))
        default:
            if out.isEmpty { out = [0] } else { out.removeLast(Int.random(in: 1...out.count, using: &self)) }
        }
        return out
    }
}

/// A clock for AuthThrottle that only moves when told to.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Duration = .seconds(1000)

    var now: Duration {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(by duration: Duration) {
        lock.lock()
        current += duration
        lock.unlock()
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
func unb64(_ text: String) -> [UInt8] { Array(Data(base64Encoded: text)!) }
