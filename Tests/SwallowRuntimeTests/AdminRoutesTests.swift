import Foundation
@testable import Admin
import Logging
import MailAuthentication
import MailQueue
import Prometheus
import SwallowRuntime
import Testing

/// The OpenAPI document against the router itself (Hummingbird lists a router's routes): every
/// route the admin listener serves, but the console's HTML pages, is documented with its
/// method, and the document names no route the listener does not serve. A route added to
/// APIRoutes without its entry in docs/openapi.json fails here.
@Suite("Admin routes")
struct AdminRoutesTests {
    @Test func everyRouteIsInTheOpenAPIDocumentAndNothingElse() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-routes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try await DataDirectory.initialize(.init(directory: dir, domain: "example.test"))
        let backend = try Backend.open(config)
        let administration = Administration(directory: backend.directory, store: backend.store,
                                            queue: try OutboundQueue(path: config.dataFile("queue.sqlite")), trace: nil,
                                            dkim: DKIMKeyring(directory: config.dkimDirectory), hostname: "example.test",
                                            scramIterations: 4096)
        let dependencies = AdminServer.Dependencies(
            administration: administration, accounts: try AdminAccounts(path: config.dataFile("admin.sqlite")),
            metrics: PrometheusCollectorRegistry(),
            status: { ServerStatus(version: "test", hostname: "example.test", uptime_seconds: 0, listeners: [], connections: [:]) },
            readiness: { [:] }, beforeScrape: {})
        let router = AdminServer(dependencies: dependencies, logger: Logger(label: "test")).makeRouter()

        // Parameter names are each side's to choose: "{address}" and "{user}" are the same route.
        func shape(_ path: String) -> String {
            path.replacingOccurrences(of: #"\{[^}]*\}"#, with: "{}", options: .regularExpression)
        }
        let served = Set(router.routes.map { "\($0.method.rawValue.uppercased()) \(shape($0.path.description))" }
            .filter { !$0.hasSuffix(" /") && !$0.contains(" /console") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let paths = try #require(json["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(shape(path))" } })

        #expect(served.count > 20, "the router lists its routes: \(served.sorted())")
        #expect(served.subtracting(documented).sorted() == [], "served but not in docs/openapi.json")
        #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.json but not served")
    }
}
