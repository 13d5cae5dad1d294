import Foundation
import HTTPTypes
import Hummingbird
import MailQueue

/// The web console: server-rendered HTML that works without JavaScript and on a phone. Every
/// change is a POST form carrying the session's CSRF token; every page calls the same
/// `Administration` functions as the API and the CLI.
struct Console {
    let dependencies: AdminServer.Dependencies
    let sessions: ConsoleSessions
    var admin: Administration { dependencies.administration }

    static let cookieName = "swallow_session"

    func register(_ console: RouterGroup<AdminContext>) {
        console.get("/login") { request, _ in
            Self.page("Log in", nav: false, body: Self.loginForm(error: request.uri.queryParameters.get("failed") != nil ? "Wrong name or password." : nil))
        }
        console.post("/login") { request, context -> Response in
            guard sessions.mayTryLogin(context.clientIP) else {
                return Self.page("Log in", nav: false, status: .tooManyRequests,
                                 body: Self.loginForm(error: "Too many failed logins from your address; try again in 15 minutes."))
            }
            let form = try await Self.form(request)
            let name = form["name"] ?? "", password = form["password"] ?? ""
            guard await dependencies.accounts.verify(name, password: password) else {
                sessions.loginFailed(context.clientIP)
                context.logger.notice("console login failed", metadata: ["name": "\(name)", "client": "\(context.clientIP)"])
                return Self.page("Log in", nav: false, status: .unauthorized, body: Self.loginForm(error: "Wrong name or password."))
            }
            sessions.loginSucceeded(context.clientIP)
            let cookie = sessions.open(name)
            var headers = HTTPFields()
            headers[.location] = "/console/"
            headers[.setCookie] = "\(Self.cookieName)=\(cookie); Path=/console; HttpOnly; SameSite=Strict"
                + (request.uri.scheme == .https ? "; Secure" : "")
            return Response(status: .seeOther, headers: headers)
        }

        let pages = console.group().add(middleware: ConsoleAuthentication(sessions: sessions))
        pages.post("/logout") { request, _ -> Response in
            if let cookie = Self.cookie(request) { sessions.close(cookie) }
            return Response(status: .seeOther, headers: [.location: "/console/login",
                                                          .setCookie: "\(Self.cookieName)=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict"])
        }
        pages.get("/") { _, context in try await dashboard(context) }
        pages.get("/users") { request, context in try await users(context, message: request.uri.queryParameters.get("done")) }
        pages.post("/users") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/users") {
                let quota = try form["quota"].flatMap { $0.isEmpty ? nil : $0 }.map(ByteSize.parse) ?? 0
                let user = try await admin.addUser(form["address"] ?? "", password: form["password"] ?? "", quotaBytes: quota)
                await dependencies.recordChange(context, "user.add", user.address)
                return "Added \(user.address)."
            }
        }
        pages.post("/users/remove") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/users") {
                let address = form["address"] ?? ""
                try await admin.directory.removeUser(address)
                await dependencies.recordChange(context, "user.remove", address)
                return "Removed \(address)."
            }
        }
        pages.post("/users/password") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/users") {
                let address = form["address"] ?? ""
                try await admin.setPassword(address, password: form["password"] ?? "")
                await dependencies.recordChange(context, "user.password", address)
                return "Changed the password of \(address)."
            }
        }
        pages.post("/users/quota") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/users") {
                let address = form["address"] ?? ""
                let text = (form["quota"] ?? "").trimmingCharacters(in: .whitespaces)
                try await admin.setQuota(address, bytes: text.isEmpty ? 0 : ByteSize.parse(text))
                await dependencies.recordChange(context, "user.quota", address)
                return "Set the quota of \(address) to \(text.isEmpty ? "unlimited" : text)."
            }
        }
        pages.get("/domains") { request, context in try await domains(context, message: request.uri.queryParameters.get("done")) }
        pages.post("/domains") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/domains") {
                let domain = form["domain"] ?? ""
                if form["remove"] != nil {
                    try await admin.directory.removeDomain(domain)
                    await dependencies.recordChange(context, "domain.remove", domain)
                    return "Removed \(domain)."
                }
                try await admin.directory.addDomain(domain)
                await dependencies.recordChange(context, "domain.add", domain)
                return "Added \(domain)."
            }
        }
        pages.get("/aliases") { request, context in try await aliases(context, message: request.uri.queryParameters.get("done")) }
        pages.post("/aliases") { request, context -> Response in
            let form = try await Self.form(request)
            return try await act(context, back: "/console/aliases") {
                let alias = form["alias"] ?? ""
                if form["remove"] != nil {
                    try await admin.directory.removeAlias(alias)
                    await dependencies.recordChange(context, "alias.remove", alias)
                    return "Removed \(alias)."
                }
                let targets = (form["targets"] ?? "").split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
                try await admin.directory.addAlias(alias, targets: targets)
                await dependencies.recordChange(context, "alias.add", alias)
                return "Added \(alias)."
            }
        }
        pages.get("/queue") { request, context in try await queue(context, message: request.uri.queryParameters.get("done")) }
        pages.get("/queue/:id") { _, context in try await queued(context, id: context.parameters.require("id")) }
        pages.post("/queue") { request, context -> Response in
            let form = try await Self.form(request)
            let id = form["id"]
            let action = form["action"] ?? ""
            return try await act(context, back: id.map { action == "delete" || action == "bounce" ? "/console/queue" : "/console/queue/\($0)" } ?? "/console/queue") {
                let by = context.admin ?? "?"
                let what: String
                switch (action, id) {
                case ("flush", _): what = "\(try await admin.flush(id, destination: nil)) recipients due now."
                case ("hold", let id?): try await admin.hold(id, by: by); what = "Held \(id)."
                case ("release", let id?): try await admin.release(id, by: by); what = "Released \(id)."
                case ("delete", let id?): try await admin.delete(id, by: by); what = "Deleted \(id)."
                case ("bounce", let id?): _ = try await admin.bounce(id, by: by); what = "Returned \(id) to its sender."
                default: throw AdminError.badRequest("unknown queue action '\(action)'")
                }
                await dependencies.recordChange(context, "queue.\(action)", id ?? "all")
                return what
            }
        }
        pages.get("/trace") { request, context in
            let query = request.uri.queryParameters
            return try await trace(context, query: query.get("q") ?? "", since: query.get("since") ?? "", until: query.get("until") ?? "")
        }
    }

    /// Runs a change and redirects back with what happened (POST/redirect/GET), or shows the refusal.
    private func act(_ context: AdminContext, back: String, _ change: () async throws -> String) async throws -> Response {
        do {
            let message = try await change()
            let encoded = message.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return Response(status: .seeOther, headers: [.location: "\(back)?done=\(encoded)"])
        } catch {
            let (status, text) = AdminServer.status(of: error)
            return Self.page("Refused", context: context, status: status,
                             body: "<p class=\"error\">\(html(text))</p><p><a href=\"\(html(back))\">Back</a></p>")
        }
    }

    // MARK: Pages

    private func dashboard(_ context: AdminContext) async throws -> Response {
        let counts = try await admin.trace?.counts(since: Date().addingTimeInterval(-3600)) ?? [:]
        let size = try await admin.queue.size()
        let status = await dependencies.status()
        let kinds: [TraceEvent.Kind] = [.received, .delivered, .relayed, .deferred, .failed, .bounced]
        let top = max(1, kinds.map { counts[$0] ?? 0 }.max() ?? 1)
        var body = "<h2>Last hour</h2><table class=\"chart\" id=\"last-hour\">"
        for kind in kinds {
            let n = counts[kind] ?? 0
            body += "<tr><th>\(kind.rawValue)</th><td><span class=\"bar\" style=\"width:\(n == 0 ? 0 : max(1, n * 100 / top))%\"></span></td><td>\(n)</td></tr>"
        }
        body += "</table><h2>Now</h2><table><tr><th>queued messages</th><td id=\"queue-size\">\(size.messages)</td></tr>"
        if let oldest = size.oldest {
            body += "<tr><th>oldest queued</th><td>\(Int(Date().timeIntervalSince(oldest))) s ago</td></tr>"
        }
        for (name, n) in status.connections.sorted(by: { $0.key < $1.key }) {
            body += "<tr><th>\(html(name)) connections</th><td>\(n)</td></tr>"
        }
        body += "<tr><th>up</th><td>\(Int(status.uptime_seconds)) s</td></tr><tr><th>version</th><td>\(html(status.version))</td></tr></table>"
        return Self.page("Dashboard", context: context, body: body)
    }

    private func users(_ context: AdminContext, message: String?) async throws -> Response {
        var body = Self.notice(message) + "<table id=\"users\"><tr><th>address</th><th>messages</th><th>used</th><th>quota</th><th></th></tr>"
        for u in try await admin.users() {
            body += "<tr><td>\(html(u.address))</td><td>\(u.messages)</td><td>\(ByteSize.format(u.used_bytes))</td>"
                + "<td>\(u.quota_bytes == 0 ? "unlimited" : ByteSize.format(u.quota_bytes))</td><td>"
                + form(context, "/console/users/remove", hidden: ["address": u.address], button: "Remove")
                + "</td></tr>"
        }
        body += "</table><h2>Add a user</h2>" + form(context, "/console/users", id: "add-user", fields: [
            ("address", "Address", "email"), ("password", "Password", "password"), ("quota", "Quota (e.g. 2G, empty: unlimited)", "text"),
        ], button: "Add user")
        body += "<h2>Change a password</h2>" + form(context, "/console/users/password", id: "change-password", fields: [
            ("address", "Address", "email"), ("password", "New password", "password"),
        ], button: "Change password")
        body += "<h2>Change a quota</h2>" + form(context, "/console/users/quota", id: "change-quota", fields: [
            ("address", "Address", "email"), ("quota", "Quota (e.g. 2G, empty: unlimited)", "text"),
        ], button: "Change quota")
        return Self.page("Users", context: context, body: body)
    }

    private func domains(_ context: AdminContext, message: String?) async throws -> Response {
        var body = Self.notice(message) + "<table id=\"domains\"><tr><th>domain</th><th></th></tr>"
        for d in try await admin.directory.listDomains() {
            body += "<tr><td>\(html(d))</td><td>" + form(context, "/console/domains", hidden: ["domain": d, "remove": "1"], button: "Remove") + "</td></tr>"
        }
        body += "</table><h2>Add a domain</h2>" + form(context, "/console/domains", id: "add-domain", fields: [("domain", "Domain", "text")],
                                                      button: "Add domain")
        return Self.page("Domains", context: context, body: body)
    }

    private func aliases(_ context: AdminContext, message: String?) async throws -> Response {
        var body = Self.notice(message) + "<table id=\"aliases\"><tr><th>alias</th><th>targets</th><th></th></tr>"
        for a in try await admin.directory.listAliases() {
            body += "<tr><td>\(html(a.source))</td><td>\(html(a.targets.joined(separator: ", ")))</td><td>"
                + form(context, "/console/aliases", hidden: ["alias": a.source, "remove": "1"], button: "Remove") + "</td></tr>"
        }
        body += "</table><h2>Add an alias</h2>" + form(context, "/console/aliases", id: "add-alias", fields: [
            ("alias", "Alias (or @domain for a catch-all)", "text"), ("targets", "Targets (comma-separated)", "text"),
        ], button: "Add alias")
        return Self.page("Aliases", context: context, body: body)
    }

    private func queue(_ context: AdminContext, message: String?) async throws -> Response {
        let entries = try await admin.queue.list()
        var body = Self.notice(message) + form(context, "/console/queue", hidden: ["action": "flush"], button: "Retry all now")
        body += "<table id=\"queue\"><tr><th>id</th><th>arrival</th><th>sender</th><th>recipients</th><th>last error</th></tr>"
        for e in entries {
            let errors = e.recipients.compactMap(\.lastError).first ?? ""
            body += "<tr><td><a href=\"/console/queue/\(e.id)\">\(e.id)</a>\(e.held ? " (held)" : "")</td>"
                + "<td>\(AdminJSON.iso(e.arrival))</td><td>\(html(e.sender.isEmpty ? "<>" : e.sender))</td>"
                + "<td>\(html(e.recipients.map(\.address).joined(separator: ", ")))</td><td>\(html(errors))</td></tr>"
        }
        body += "</table>" + (entries.isEmpty ? "<p>The queue is empty.</p>" : "")
        return Self.page("Queue", context: context, body: body)
    }

    private func queued(_ context: AdminContext, id: String) async throws -> Response {
        let m: QueuedMessage
        do { m = try await admin.queuedMessage(id) } catch {
            return Self.page("Queue", context: context, status: .notFound, body: "<p class=\"error\">\(html("\(error)"))</p>")
        }
        let entry = AdminJSON.queued(m)
        var body = "<table><tr><th>id</th><td>\(m.id)</td></tr><tr><th>sender</th><td>\(html(m.sender.isEmpty ? "<>" : m.sender))</td></tr>"
            + "<tr><th>arrival</th><td>\(entry.arrival)</td></tr><tr><th>size</th><td>\(entry.size)</td></tr>"
            + "<tr><th>held</th><td>\(m.held ? "yes" : "no")</td></tr></table>"
        body += "<h2>Recipients</h2><table><tr><th>address</th><th>state</th><th>attempts</th><th>next attempt</th><th>last error</th></tr>"
        for r in entry.recipients {
            body += "<tr><td>\(html(r.address))</td><td>\(r.state)</td><td>\(r.attempts)</td><td>\(r.next_attempt)</td><td>\(html(r.last_error ?? ""))</td></tr>"
        }
        body += "</table><div class=\"actions\">"
        for action in ["flush", m.held ? "release" : "hold", "bounce", "delete"] {
            body += form(context, "/console/queue", hidden: ["id": m.id.rawValue, "action": action], button: action.capitalized)
        }
        body += "</div><p><a href=\"/console/trace?q=\(m.id)\">Trace</a></p><h2>Header</h2><pre>\(html(entry.header ?? ""))</pre>"
        return Self.page("Queued \(m.id)", context: context, body: body)
    }

    /// Search by queue ID, address or Message-ID, and time range (ISO 8601, as the API's and
    /// `swallow trace`'s since and until); without a query, the most recent messages in the range.
    private func trace(_ context: AdminContext, query: String, since: String, until: String) async throws -> Response {
        let example = "2026-12-03T17:00:00Z"
        var body = "<form id=\"trace\" method=\"get\" action=\"/console/trace\"><label>Queue ID, address or Message-ID "
            + "<input name=\"q\" value=\"\(html(query))\"></label> "
            + "<label>Since <input name=\"since\" value=\"\(html(since))\" placeholder=\"\(example)\"></label> "
            + "<label>Until <input name=\"until\" value=\"\(html(until))\" placeholder=\"\(example)\"></label> "
            + "<button type=\"submit\">Search</button></form>"
        guard let trace = admin.trace else { return Self.page("Trace", context: context, body: body + "<p>The trace is off.</p>") }
        let from: Date?, to: Date?
        do {
            from = since.isEmpty ? nil : try APIRoutes.date(since)
            to = until.isEmpty ? nil : try APIRoutes.date(until)
        } catch {
            return Self.page("Trace", context: context, status: .badRequest, body: body + "<p class=\"error\">\(html("\(error)"))</p>")
        }
        let found = query.isEmpty ? try await trace.recent(since: from, until: to, limit: 20) : try await trace.find(query, since: from, until: to)
        body += "<table id=\"trace-events\"><tr><th>time</th><th>queue ID</th><th>event</th><th>recipient</th><th>details</th></tr>"
        for m in found {
            for e in m.events {
                let details = e.data.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                body += "<tr class=\"\(e.kind.rawValue)\"><td>\(AdminJSON.iso(e.time))</td>"
                    + "<td><a href=\"/console/trace?q=\(m.envelope.queueID)\">\(m.envelope.queueID)</a></td>"
                    + "<td>\(e.kind.rawValue)</td><td>\(html(e.recipient ?? ""))</td><td>\(html(e.text))<br><small>\(html(details))</small></td></tr>"
            }
        }
        let range = (from.map { " since \(AdminJSON.iso($0))" } ?? "") + (to.map { " until \(AdminJSON.iso($0))" } ?? "")
        body += "</table>"
        if found.isEmpty && !(query.isEmpty && range.isEmpty) {
            body += "<p>Nothing found" + (query.isEmpty ? "" : " for \(html(query))") + "\(range).</p>"
        }
        return Self.page("Trace", context: context, body: body)
    }

    // MARK: HTML

    private func form(_ context: AdminContext, _ action: String, id: String? = nil, hidden: [String: String] = [:],
                      fields: [(name: String, label: String, type: String)] = [], button: String) -> String {
        var text = "<form method=\"post\" action=\"\(html(action))\"\(id.map { " id=\"\(html($0))\"" } ?? "")>"
        text += "<input type=\"hidden\" name=\"csrf\" value=\"\(html(context.csrf ?? ""))\">"
        for (name, value) in hidden.sorted(by: { $0.key < $1.key }) {
            text += "<input type=\"hidden\" name=\"\(html(name))\" value=\"\(html(value))\">"
        }
        for field in fields {
            text += "<label>\(html(field.label)) <input name=\"\(field.name)\" type=\"\(field.type)\"></label> "
        }
        return text + "<button type=\"submit\">\(html(button))</button></form>"
    }

    static func loginForm(error: String?) -> String {
        (error.map { "<p class=\"error\">\(html($0))</p>" } ?? "")
            + "<form method=\"post\" action=\"/console/login\" id=\"login\"><label>Name <input name=\"name\" autocomplete=\"username\"></label> "
            + "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label> "
            + "<button type=\"submit\">Log in</button></form>"
    }

    static func notice(_ message: String?) -> String {
        message.map { "<p class=\"notice\">\(html($0))</p>" } ?? ""
    }

    static func page(_ title: String, context: AdminContext? = nil, nav: Bool = true, status: HTTPResponse.Status = .ok,
                     body: String) -> Response {
        var text = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(html(title)) · Swallow</title><style>
            body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:0 1rem;color:#222}
            nav{display:flex;flex-wrap:wrap;gap:.8rem;padding:.6rem 0;border-bottom:1px solid #ccc;align-items:center}
            nav form{margin-left:auto}table{border-collapse:collapse;width:100%;margin:.5rem 0}
            td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
            .bar{display:inline-block;height:.8rem;background:#3a7bd5}.chart td:nth-child(2){width:70%}
            .error{color:#a00}.notice{color:#060}form{display:inline-block;margin:.2rem 0}label{display:inline-block;margin:.2rem 0}
            pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}
            </style></head><body>
            """
        if nav, let context {
            text += "<nav><strong>Swallow</strong><a href=\"/console/\">Dashboard</a><a href=\"/console/users\">Users</a>"
                + "<a href=\"/console/domains\">Domains</a><a href=\"/console/aliases\">Aliases</a><a href=\"/console/queue\">Queue</a>"
                + "<a href=\"/console/trace\">Trace</a><form method=\"post\" action=\"/console/logout\">"
                + "<input type=\"hidden\" name=\"csrf\" value=\"\(html(context.csrf ?? ""))\">"
                + "<button type=\"submit\">Log out \(html(context.admin ?? ""))</button></form></nav>"
        }
        text += "<h1>\(html(title))</h1>\(body)</body></html>"
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix(cookieName + "=") { return String(pair.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    /// An `application/x-www-form-urlencoded` body (HTML 5 §4.10.21.7).
    static func form(_ request: Request) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(upTo: AdminServer.maxBody)
        return parseForm(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}

/// Console pages need a live session; a POST also needs the session's CSRF token in its form.
struct ConsoleAuthentication: RouterMiddleware {
    typealias Context = AdminContext
    let sessions: ConsoleSessions

    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard let cookie = Console.cookie(request), let session = sessions.session(cookie) else {
            return Response(status: .seeOther, headers: [.location: "/console/login"])
        }
        var context = context
        context.admin = session.admin
        context.csrf = session.csrf
        var request = request
        if request.method == .post {
            // The body is read here to check the token, then handed on for the route to read again.
            let buffer = try await request.collectBody(upTo: AdminServer.maxBody)
            let token = Console.parseForm(String(decoding: buffer.readableBytesView, as: UTF8.self))["csrf"] ?? ""
            guard ConstantTimeText.equal(token, session.csrf) else {
                return Console.page("Refused", context: context, status: .forbidden,
                                    body: "<p class=\"error\">This form is stale or did not come from this console (CSRF token missing or wrong). Reload the page and try again.</p>")
            }
        }
        return try await next(request, context)
    }
}

enum ConstantTimeText {
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// "500M", "2G", "1024" and back, as the CLI writes them.
public enum ByteSize {
    public static func parse(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased().trimmingCharacters(in: .whitespaces))
        var multiplier: Int64 = 1
        if digits.last == "B" { digits = digits.dropLast() }
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value >= 0, value <= Int64.max / multiplier else {
            throw AdminError.badRequest("'\(text)' is not a size (examples: 500M, 2G)")
        }
        return value * multiplier
    }

    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// HTML text and attribute escaping (everything shown may come from the network).
func html(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
