import Testing
@testable import Delivery

@Suite("Routing and retries")
struct RoutingTests {
    @Test func transportBeatsSmarthostBeatsMX() {
        let routing = Routing(transport: ["example.net": .init(host: "127.0.0.1", port: 2526),
                                          ".corp.test": .init(host: "10.0.0.1", port: 25)],
                              smarthost: .init(host: "relay.test", port: 587))
        #expect(routing.route(for: "EXAMPLE.net") == .transport(.init(host: "127.0.0.1", port: 2526)))
        #expect(routing.route(for: "mail.corp.test") == .transport(.init(host: "10.0.0.1", port: 25)))
        #expect(routing.route(for: "other.test") == .smarthost(.init(host: "relay.test", port: 587)))
        #expect(Routing().route(for: "Other.Test") == .mx(domain: "other.test"))
    }

    @Test func lineEndingsAreNormalisedBeforeSending() {
        #expect(SMTPWire.normalizedLineEndings(Array("a\nb\rc\r\nd".utf8)) == Array("a\r\nb\r\nc\r\nd".utf8))
        #expect(SMTPWire.normalizedLineEndings(Array("\r".utf8)) == Array("\r\n".utf8))
        #expect(SMTPWire.normalizedLineEndings([]) == [])
    }
}
