import Foundation
@testable import MailAuthentication
import Testing

/// The openspf.org RFC 7208 test suite (release 2014.04), converted by
/// Fixtures/make_rfc7208_fixture.py into Fixtures/rfc7208-tests.json, run case by case against
/// a fake resolver serving each scenario's zone. Every case runs; none is skipped. Where the
/// suite allows several results any is accepted (the first is its preferred one), and where it
/// gives an explanation that is checked too ("DEFAULT" standing for our default text).
@Suite("SPF RFC 7208 test suite")
struct SPFTestSuiteTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var scenario: String
        var name: String
        var spec: String
        var host: String
        var mailfrom: String
        var helo: String
        var results: [String]
        var explanation: String?
        var zone: [String: [String: SPFFakeResolver.Answer]]

        var testDescription: String { "\(name) (\(spec))" }
    }

    private struct Fixture: Decodable {
        struct Scenario: Decodable {
            var description: String
            var zone: [String: [String: Answer]]
            var tests: [Test]
        }

        struct Test: Decodable {
            var name: String
            var spec: String
            var host: String
            var mailfrom: String
            var helo: String
            var results: [String]
            var explanation: String?
        }

        /// A list of records, or the string "TIMEOUT".
        struct Answer: Decodable {
            var value: SPFFakeResolver.Answer

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let records = try? container.decode([String].self) {
                    value = .records(records)
                } else if try container.decode(String.self) == "TIMEOUT" {
                    value = .timeout
                } else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "neither records nor TIMEOUT")
                }
            }
        }

        var scenarios: [Scenario]
    }

    /// Read through #filePath, not SwiftPM resources, so the fixture needs no Package.swift entry.
    static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/rfc7208-tests.json").path

    static func loadCases() -> [Case] {
        guard let data = FileManager.default.contents(atPath: fixturePath),
              let fixture = try? JSONDecoder().decode(Fixture.self, from: data) else { return [] }
        return fixture.scenarios.flatMap { scenario in
            let zone = scenario.zone.mapValues { $0.mapValues(\.value) }
            return scenario.tests.map { test in
                Case(scenario: scenario.description, name: test.name, spec: test.spec, host: test.host,
                     mailfrom: test.mailfrom, helo: test.helo, results: test.results,
                     explanation: test.explanation, zone: zone)
            }
        }
    }

    static let cases = loadCases()

    @Test func fixtureHoldsTheWholeSuite() {
        // 203 cases in 14 scenarios; an unreadable fixture would otherwise pass vacuously.
        #expect(Self.cases.count == 203)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count)
    }

    @Test(arguments: SPFTestSuiteTests.cases)
    func suiteCase(_ test: Case) async throws {
        let resolver = SPFFakeResolver(zone: test.zone)
        let verifier = SPFVerifier(resolver: resolver, now: { 1_700_000_000 })
        let outcome = await verifier.checkMailFrom(ip: test.host, sender: test.mailfrom, helo: test.helo)
        #expect(test.results.contains(outcome.result.rawValue),
                "\(test.scenario) / \(test.name): \(outcome.result) (\(outcome.explanation ?? "-")), want \(test.results)")
        if let expected = test.explanation, outcome.result == .fail {
            if expected == "DEFAULT" {
                let ip = try #require(SPFAddress(client: test.host)).readable
                #expect(outcome.explanation == SPFVerifier.defaultExplanation(ip: ip, domain: outcome.domain))
            } else {
                #expect(outcome.explanation == expected)
            }
        }
    }
}
