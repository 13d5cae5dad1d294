import Foundation
import Testing

/// Runs programs the way a user would: the built `swallow` binary, python3, swaks, postfix.
enum Run {
    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `swallow` executable `swift build` put next to the test bundle.
    static var swallowPath: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("swallow").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/swallow"
    }

    static func swallow(_ arguments: [String], stdin: String? = nil, timeout: Duration? = nil) async throws -> Output {
        try await program(swallowPath, arguments, stdin: stdin, timeout: timeout)
    }

    /// Runs `path` to its end; with a `timeout`, a program still running then is killed (and
    /// exits with SIGKILL's status), so a test of something that might hang cannot hang.
    static func program(_ path: String, _ arguments: [String], stdin: String? = nil,
                        environment: [String: String]? = nil, timeout: Duration? = nil) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        if let timeout {
            let pid = process.processIdentifier
            Thread {
                Thread.sleep(forTimeInterval: Double(timeout.components.seconds))
                if process.isRunning { kill(pid, SIGKILL) }
            }.start()
        }
        // Read both pipes to the end, then wait, on threads of their own: blocking the
        // cooperative pool (one thread per core) would starve servers running in other tests.
        let outReader = out.fileHandleForReading, errReader = err.fileHandleForReading
        return await withCheckedContinuation { continuation in
            Thread {
                let outBox = DataBox()
                let reader = Thread {
                    outBox.data = (try? outReader.readToEnd()) ?? Data()
                    outBox.done.signal()
                }
                reader.start()
                let errData = (try? errReader.readToEnd()) ?? Data()
                outBox.done.wait()
                process.waitUntilExit()
                continuation.resume(returning: Output(status: process.terminationStatus,
                                                      stdout: String(decoding: outBox.data, as: UTF8.self),
                                                      stderr: String(decoding: errData, as: UTF8.self)))
            }.start()
        }
    }
}

final class DataBox: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
}

/// A temporary directory removed at the end of the test.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-interop-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
