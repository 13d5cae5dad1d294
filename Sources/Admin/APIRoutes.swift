import Foundation
import Hummingbird
import MailAuth
import MailQueue

/// The JSON API (openapi.json documents every route here). Every change is written to the audit
/// log with the admin who made it.
struct APIRoutes {
    let dependencies: AdminServer.Dependencies
    var admin: Administration { dependencies.administration }
    var accounts: AdminAccounts { dependencies.accounts }

    struct NewDomain: Decodable { let domain: String }
    struct NewUser: Decodable { let address: String; let password: String?; let quota_bytes: Int64?; let max_messages: Int64? }
    struct UserChange: Decodable { let password: String?; let quota_bytes: Int64?; let max_messages: Int64? }
    struct NewAlias: Decodable { let alias: String; let targets: [String] }
    struct Flush: Decodable { let id: String?; let destination: String? }
    struct NewDKIMKey: Decodable { let domain: String; let selector: String?; let algorithm: String? }
    struct Alias: Encodable { let alias: String; let targets: [String] }
    struct SieveScriptEntry: Codable { let name: String; let active: Bool; let size: Int }
    struct SieveScriptBody: Codable { let script: String; let active: Bool? }
    struct SieveActive: Decodable { let name: String? }

    func register(_ api: RouterGroup<AdminContext>) {
        api.get("/status") { _, _ in try AdminServer.json(await dependencies.status()) }
        api.get("/audit") { _, _ in try AdminServer.json(try await accounts.auditLog()) }

        api.get("/domains") { _, _ in try AdminServer.json(try await admin.directory.listDomains()) }
        api.post("/domains") { request, context -> Response in
            let body = try await Self.decode(NewDomain.self, request)
            try await admin.directory.addDomain(body.domain)
            await audit(context, "domain.add", body.domain.lowercased())
            return try AdminServer.json(["domain": body.domain.lowercased()], status: .created)
        }
        api.delete("/domains/:domain") { _, context -> Response in
            let domain = try context.parameters.require("domain")
            do {
                try await admin.directory.removeDomain(domain)
            } catch DirectoryError.unknownDomain(let d) {
                throw AdminError.notFound("domain '\(d)' is not a local domain")
            }
            await audit(context, "domain.remove", domain)
            return Response(status: .noContent)
        }

        api.get("/users") { _, _ in try AdminServer.json(try await admin.users()) }
        api.post("/users") { request, context -> Response in
            let body = try await Self.decode(NewUser.self, request)
            guard let password = body.password else { throw AdminError.badRequest("a password is required") }
            let user = try await admin.addUser(body.address, password: password, quotaBytes: body.quota_bytes ?? 0, maxMessages: body.max_messages ?? 0)
            await audit(context, "user.add", user.address)
            return try AdminServer.json(user, status: .created)
        }
        api.get("/users/:address") { _, context in try AdminServer.json(try await admin.user(context.parameters.require("address"))) }
        api.patch("/users/:address") { request, context -> Response in
            let address = try context.parameters.require("address")
            let body = try await Self.decode(UserChange.self, request)
            guard body.password != nil || body.quota_bytes != nil || body.max_messages != nil else {
                throw AdminError.badRequest("nothing to change")
            }
            if let password = body.password {
                try await admin.setPassword(address, password: password)
                await audit(context, "user.password", address)
            }
            if body.quota_bytes != nil || body.max_messages != nil {
                try await admin.setQuota(address, bytes: body.quota_bytes, maxMessages: body.max_messages)
                await audit(context, "user.quota", address)
            }
            return try AdminServer.json(try await admin.user(address))
        }
        api.delete("/users/:address") { _, context -> Response in
            let address = try context.parameters.require("address")
            try await admin.directory.removeUser(address)
            await audit(context, "user.remove", address)
            return Response(status: .noContent)
        }

        // Users' Sieve scripts (RFC 5228), as `swallow sieve` and ManageSieve manage them.
        api.get("/users/:address/sieve") { _, context in
            try AdminServer.json(try await admin.sieveScripts(context.parameters.require("address"))
                .map { SieveScriptEntry(name: $0.name, active: $0.active, size: $0.size) })
        }
        api.get("/users/:address/sieve/:name") { _, context in
            let address = try context.parameters.require("address"), name = try context.parameters.require("name")
            let active = try await admin.sieveScripts(address).first { $0.name == name }?.active ?? false
            return try AdminServer.json(SieveScriptBody(script: try await admin.sieveScript(address, named: name), active: active))
        }
        api.put("/users/:address/sieve/:name") { request, context -> Response in
            let address = try context.parameters.require("address"), name = try context.parameters.require("name")
            let body = try await Self.decode(SieveScriptBody.self, request)
            try await admin.putSieveScript(address, named: name, source: body.script, activate: body.active ?? false)
            await audit(context, "sieve.put", "\(address) \(name)")
            return Response(status: .noContent)
        }
        api.delete("/users/:address/sieve/:name") { _, context -> Response in
            let address = try context.parameters.require("address"), name = try context.parameters.require("name")
            try await admin.deleteSieveScript(address, named: name)
            await audit(context, "sieve.delete", "\(address) \(name)")
            return Response(status: .noContent)
        }
        api.post("/users/:address/sieve-active") { request, context -> Response in
            let address = try context.parameters.require("address")
            let body = try await Self.decode(SieveActive.self, request)
            try await admin.activateSieveScript(address, named: body.name)
            await audit(context, body.name == nil ? "sieve.deactivate" : "sieve.activate", "\(address) \(body.name ?? "")")
            return Response(status: .noContent)
        }

        api.get("/aliases") { _, _ in
            try AdminServer.json(try await admin.directory.listAliases().map { Alias(alias: $0.source, targets: $0.targets) })
        }
        api.post("/aliases") { request, context -> Response in
            let body = try await Self.decode(NewAlias.self, request)
            try await admin.directory.addAlias(body.alias, targets: body.targets)
            await audit(context, "alias.add", body.alias)
            return try AdminServer.json(Alias(alias: body.alias, targets: body.targets), status: .created)
        }
        api.delete("/aliases/:alias") { _, context -> Response in
            let alias = try context.parameters.require("alias")
            try await admin.directory.removeAlias(alias)
            await audit(context, "alias.remove", alias)
            return Response(status: .noContent)
        }

        api.get("/dkim") { _, _ in try AdminServer.json(admin.dkimKeys()) }
        api.post("/dkim") { request, context -> Response in
            let body = try await Self.decode(NewDKIMKey.self, request)
            let key = try await admin.generateDKIMKey(domain: body.domain, selector: body.selector, algorithm: body.algorithm)
            await audit(context, "dkim.generate", "\(key.selector)._domainkey.\(key.domain)")
            return try AdminServer.json(key, status: .created)
        }

        api.get("/queue") { request, _ in
            try AdminServer.json(AdminJSON.queue(try await admin.queue.list(destination: request.uri.queryParameters.get("destination"))))
        }
        api.post("/queue/flush") { request, context -> Response in
            let body = try await Self.decode(Flush.self, request, emptyIs: Flush(id: nil, destination: nil))
            let due = try await admin.flush(body.id, destination: body.destination)
            await audit(context, "queue.flush", body.id ?? body.destination ?? "all")
            return try AdminServer.json(["due": due])
        }
        api.get("/queue/:id") { _, context in
            try AdminServer.json(AdminJSON.queued(try await admin.queuedMessage(context.parameters.require("id"))))
        }
        api.post("/queue/:id/hold") { _, context -> Response in
            let id = try context.parameters.require("id")
            try await admin.hold(id, by: context.admin ?? "?")
            await audit(context, "queue.hold", id)
            return try AdminServer.json(["held": id.uppercased()])
        }
        api.post("/queue/:id/release") { _, context -> Response in
            let id = try context.parameters.require("id")
            try await admin.release(id, by: context.admin ?? "?")
            await audit(context, "queue.release", id)
            return try AdminServer.json(["released": id.uppercased()])
        }
        api.post("/queue/:id/bounce") { _, context -> Response in
            let id = try context.parameters.require("id")
            let report = try await admin.bounce(id, by: context.admin ?? "?")
            await audit(context, "queue.bounce", id)
            struct Bounced: Encodable { let bounced: String; let report: String? }
            return try AdminServer.json(Bounced(bounced: id.uppercased(), report: report?.rawValue))
        }
        api.delete("/queue/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            try await admin.delete(id, by: context.admin ?? "?")
            await audit(context, "queue.delete", id)
            return Response(status: .noContent)
        }

        api.get("/trace") { request, _ -> Response in
            guard let trace = admin.trace else { throw AdminError.notFound("the trace is not enabled") }
            let query = request.uri.queryParameters
            let since = try query.get("since").map(Self.date)
            let until = try query.get("until").map(Self.date)
            let found: [TracedMessage]
            if let q = query.get("q"), !q.isEmpty {
                found = try await trace.find(q, since: since, until: until)
            } else {
                found = try await trace.recent(since: since, until: until)
            }
            return try AdminServer.json(AdminJSON.trace(found))
        }
    }

    private func audit(_ context: AdminContext, _ action: String, _ target: String) async {
        await dependencies.recordChange(context, action, target)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, emptyIs empty: T? = nil) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: AdminServer.maxBody)
        } catch {
            throw HTTPError(.contentTooLarge, message: "the request body is larger than \(AdminServer.maxBody) bytes")
        }
        if buffer.readableBytes == 0, let empty { return empty }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    static func date(_ text: String) throws -> Date {
        guard let date = try? Date(text, strategy: .iso8601) else {
            throw AdminError.badRequest("'\(text)' is not an ISO 8601 time (2026-12-03T17:00:00Z)")
        }
        return date
    }
}
