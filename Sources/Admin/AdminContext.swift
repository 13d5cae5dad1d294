import Hummingbird
import NIOCore

/// Per request: who is asking (the client's address for rate limits and the audit log; the
/// admin once authenticated).
public struct AdminContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `APIAuthentication` or the console's session check.
    public var admin: String?
    /// The console session's CSRF token, for the forms of the page being rendered.
    public var csrf: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text.
    var clientIP: String { remoteAddress?.ipAddress ?? "unknown" }
}
