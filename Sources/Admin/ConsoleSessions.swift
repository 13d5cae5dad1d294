import Crypto
import Foundation
import Synchronization

/// The console's logins: a random session cookie (HttpOnly, SameSite=Strict) per login, each
/// with its own CSRF token that every form carries (a POST without it is refused), and a limit
/// on failed logins per client address (console passwords and API tokens alike).
final class ConsoleSessions: Sendable {
    struct Session: Sendable {
        let admin: String
        let csrf: String
        var expires: Date
    }

    /// A session ends after this long without a request.
    static let idleLifetime: TimeInterval = 8 * 3600
    /// Failed logins from one address within `failureWindow` before it is refused (429).
    static let maxFailures = 10
    static let failureWindow: TimeInterval = 15 * 60
    /// Bounds on what the maps hold, so a flood cannot grow them without end.
    static let maxSessions = 10_000
    static let maxTrackedClients = 100_000

    private struct State {
        /// Keyed by the SHA-256 of the cookie: the map never holds a usable cookie.
        var sessions: [String: Session] = [:]
        var failures: [String: (count: Int, since: Date)] = [:]
    }

    private let state = Mutex(State())

    /// A new session for `admin`; returns the cookie value.
    func open(_ admin: String, now: Date = Date()) -> String {
        let cookie = Self.randomToken()
        let session = Session(admin: admin, csrf: Self.randomToken(), expires: now.addingTimeInterval(Self.idleLifetime))
        state.withLock { s in
            if s.sessions.count >= Self.maxSessions {
                s.sessions = s.sessions.filter { $0.value.expires > now }
                if s.sessions.count >= Self.maxSessions, let oldest = s.sessions.min(by: { $0.value.expires < $1.value.expires }) {
                    s.sessions.removeValue(forKey: oldest.key)
                }
            }
            s.sessions[Self.digest(cookie)] = session
        }
        return cookie
    }

    /// The live session for `cookie`, its lifetime extended.
    func session(_ cookie: String, now: Date = Date()) -> Session? {
        let key = Self.digest(cookie)
        return state.withLock { s in
            guard var session = s.sessions[key] else { return nil }
            guard session.expires > now else {
                s.sessions.removeValue(forKey: key)
                return nil
            }
            session.expires = now.addingTimeInterval(Self.idleLifetime)
            s.sessions[key] = session
            return session
        }
    }

    func close(_ cookie: String) {
        _ = state.withLock { $0.sessions.removeValue(forKey: Self.digest(cookie)) }
    }

    /// Whether `client` may try to log in now.
    func mayTryLogin(_ client: String, now: Date = Date()) -> Bool {
        state.withLock { s in
            guard let entry = s.failures[client] else { return true }
            if now.timeIntervalSince(entry.since) > Self.failureWindow {
                s.failures.removeValue(forKey: client)
                return true
            }
            return entry.count < Self.maxFailures
        }
    }

    func loginFailed(_ client: String, now: Date = Date()) {
        state.withLock { s in
            if s.failures.count >= Self.maxTrackedClients {
                s.failures = s.failures.filter { now.timeIntervalSince($0.value.since) <= Self.failureWindow }
            }
            let entry = s.failures[client]
            if let entry, now.timeIntervalSince(entry.since) <= Self.failureWindow {
                s.failures[client] = (entry.count + 1, entry.since)
            } else {
                s.failures[client] = (1, now)
            }
        }
    }

    func loginSucceeded(_ client: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: client) }
    }

    static func randomToken() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
