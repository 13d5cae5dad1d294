import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MailAuth
import MailQueue
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle

/// What the running server tells the admin listener about itself.
public struct ServerStatus: Codable, Sendable {
    public struct Listener: Codable, Sendable {
        public let name: String
        public let address: String
        public init(name: String, address: String) { self.name = name; self.address = address }
    }
    public let version: String
    public let hostname: String
    public let uptime_seconds: Double
    public let listeners: [Listener]
    /// Open sessions per listener name (smtp, submission, imap, …).
    public let connections: [String: Int]

    public init(version: String, hostname: String, uptime_seconds: Double, listeners: [Listener], connections: [String: Int]) {
        self.version = version; self.hostname = hostname; self.uptime_seconds = uptime_seconds
        self.listeners = listeners; self.connections = connections
    }
}

/// The admin listener (`listen.admin`): the JSON API under /api, the console under /console,
/// /metrics for Prometheus, /healthz and /readyz (DESIGN.md §2 "Admin").
public struct AdminServer: Sendable {
    public struct Dependencies: Sendable {
        public var administration: Administration
        public var accounts: AdminAccounts
        public var metrics: PrometheusCollectorRegistry
        public var status: @Sendable () async -> ServerStatus
        /// Named readiness checks (store writable, listeners bound); all must pass for /readyz.
        public var readiness: @Sendable () async -> [String: Bool]
        /// Sets gauges that are read when scraped (queue size, connections) before /metrics is rendered.
        public var beforeScrape: @Sendable () async -> Void

        public init(administration: Administration, accounts: AdminAccounts, metrics: PrometheusCollectorRegistry,
                    status: @escaping @Sendable () async -> ServerStatus, readiness: @escaping @Sendable () async -> [String: Bool],
                    beforeScrape: @escaping @Sendable () async -> Void) {
            self.administration = administration; self.accounts = accounts; self.metrics = metrics
            self.status = status; self.readiness = readiness; self.beforeScrape = beforeScrape
        }

        /// A change made through the API or the console: a row in the audit log and one
        /// `admin change` line in the server log, the same for both.
        func recordChange(_ context: AdminContext, _ action: String, _ target: String) async {
            await accounts.audit(context.admin ?? "?", action, target)
            context.logger.notice("admin change", metadata: ["admin": "\(context.admin ?? "?")", "action": "\(action)",
                                                             "target": "\(target)", "client": "\(context.clientIP)"])
        }
    }

    /// Largest request body accepted (JSON and forms are small).
    static let maxBody = 64 * 1024

    let dependencies: Dependencies
    let sessions: ConsoleSessions
    let logger: Logger

    public init(dependencies: Dependencies, logger: Logger) {
        self.dependencies = dependencies
        self.sessions = ConsoleSessions()
        self.logger = logger
    }

    /// One HTTP application per address. `tls` is required for an address that is not
    /// loopback: admin passwords and tokens never cross a network in clear.
    public func applications(addresses: [(host: String, port: Int)], tls: TLSConfiguration?,
                             onBound: @escaping @Sendable (SocketAddress) -> Void) throws -> [any Service] {
        let router = makeRouter()
        return try addresses.map { address in
            let server: HTTPServerBuilder = try Self.isLoopback(address.host) ? .http1() : {
                guard let tls else { throw AdminError.badRequest("listen.admin \(address.host) is not loopback and needs a certificate") }
                return try .tls(.http1(), tlsConfiguration: tls)
            }()
            return Application(router: router, server: server,
                               configuration: .init(address: .hostname(address.host, port: address.port), serverName: "Swallow"),
                               onServerRunning: { channel in if let local = channel.localAddress { onBound(local) } },
                               logger: logger)
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    func makeRouter() -> Router<AdminContext> {
        let router = Router(context: AdminContext.self)
        router.add(middleware: SecurityHeaders())
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let checks = await dependencies.readiness()
            let ready = checks.values.allSatisfy { $0 }
            struct Ready: Encodable { let ready: Bool; let checks: [String: Bool] }
            return try Self.json(Ready(ready: ready, checks: checks), status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            await dependencies.beforeScrape()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: dependencies.metrics.emitToBuffer())))
        }
        router.get("/api/openapi.json") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        let api = router.group("/api").add(middleware: APIAuthentication(accounts: dependencies.accounts, limiter: sessions))
        APIRoutes(dependencies: dependencies).register(api)
        let console = router.group("/console")
        Console(dependencies: dependencies, sessions: sessions).register(console)
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/console/"]) }
        return router
    }

    // MARK: Responses

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try AdminJSON.encode(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        let body = (try? AdminJSON.encode(["error": message])) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The HTTP status an error maps to, and its text for the client.
    static func status(of error: any Error) -> (HTTPResponse.Status, String) {
        switch error {
        case let e as AdminError:
            switch e {
            case .badRequest: return (.badRequest, e.description)
            case .notFound: return (.notFound, e.description)
            case .conflict: return (.conflict, e.description)
            }
        case let e as DirectoryError:
            switch e {
            case .invalidAddress, .invalidDomain: return (.badRequest, e.description)
            case .unknownDomain: return (.unprocessableContent, e.description)
            case .domainExists, .domainInUse, .userExists, .aliasExists: return (.conflict, e.description)
            case .unknownUser, .unknownAlias: return (.notFound, e.description)
            case .aliasLoop: return (.unprocessableContent, e.description)
            case .temporary: return (.serviceUnavailable, e.description)
            }
        case let e as QueueError:
            if case .notFound = e { return (.notFound, e.description) }
            return (.serviceUnavailable, e.description)
        case is DecodingError:
            return (.badRequest, "the request body is not the JSON this route takes")
        case let e as HTTPError:
            return (e.status, e.body ?? "\(e.status)")
        default:
            return (.internalServerError, "internal error: \(error)")
        }
    }
}

/// Every answer: no caching of admin data, no framing (clickjacking), no sniffing.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = AdminContext
    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.cacheControl] = "no-store"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
        return response
    }
}

/// `Authorization: Bearer TOKEN` (a token from `swallow admin add` / `swallow admin token`)
/// on every /api route but the OpenAPI document. RFC 6750 §3: a missing or bad token is 401
/// with `WWW-Authenticate: Bearer`.
///
/// A wrong token counts as a failed login of its client address, with the console's limiter
/// (the same counts: guesses at a token and at a password add up), and is logged with that
/// address, never the token. A client over the limit gets 429 before its token is looked at.
struct APIAuthentication: RouterMiddleware {
    typealias Context = AdminContext
    let accounts: AdminAccounts
    let limiter: ConsoleSessions

    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard limiter.mayTryLogin(context.clientIP) else {
            context.logger.notice("API token refused", metadata: ["client": "\(context.clientIP)", "reason": "too many failures"])
            return AdminServer.error(.tooManyRequests, "too many wrong API tokens from your address; try again in 15 minutes",
                                     headers: [.retryAfter: "\(Int(ConsoleSessions.failureWindow))"])
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            context.logger.notice("API token refused", metadata: ["client": "\(context.clientIP)", "reason": "no token"])
            return AdminServer.error(.unauthorized, "an API token is required (Authorization: Bearer TOKEN)",
                                     headers: [.wwwAuthenticate: "Bearer realm=\"swallow\""])
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let admin = await accounts.admin(token: token) else {
            limiter.loginFailed(context.clientIP)
            context.logger.notice("API token refused", metadata: ["client": "\(context.clientIP)", "reason": "wrong token"])
            return AdminServer.error(.unauthorized, "the API token is not valid",
                                     headers: [.wwwAuthenticate: "Bearer realm=\"swallow\", error=\"invalid_token\""])
        }
        limiter.loginSucceeded(context.clientIP)
        var context = context
        context.admin = admin
        do {
            return try await next(request, context)
        } catch {
            let (status, message) = AdminServer.status(of: error)
            return AdminServer.error(status, message)
        }
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
