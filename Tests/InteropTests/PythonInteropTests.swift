import Foundation
import Testing

/// Runs the pytest suites in tests/interop/ (real clients and peers: smtplib, swaks, raw
/// sockets, Postfix) against the `swallow` binary this build made, so `swift test` runs every
/// suite. Run `python3 -m pytest tests/interop` directly to work on them.
@Suite("Python interop suites")
struct PythonInteropTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func pytestInterop() async throws {
        let suite = Self.repositoryRoot.appendingPathComponent("tests/interop").path
        try #require(FileManager.default.fileExists(atPath: suite), "tests/interop is missing")
        var environment = ProcessInfo.processInfo.environment
        environment["SWALLOW_BIN"] = Run.swallowPath
        let r = try await Run.program("/usr/bin/env", ["python3", "-m", "pytest", "-q", "-rsx", "-p", "no:cacheprovider", suite],
                                environment: environment)
        print(r.stdout)
        if r.status != 0 { print(r.stderr) }
        #expect(r.status == 0, "pytest failed:\n\(r.stdout.suffix(4000))")
        // Skipped modules mean a peer is missing: CI installs them all, so that is a failure too.
        #expect(!r.stdout.contains(" skipped"), "some interop tests were skipped:\n\(r.stdout.suffix(2000))")
    }
}
