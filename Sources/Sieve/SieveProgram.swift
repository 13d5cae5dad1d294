/// A script after checking: each command and test with its arguments typed and validated, so
/// that running it cannot meet a malformed command. Strings are kept as written; with the
/// "variables" extension `${...}` is expanded when they are used (RFC 5229 §3).

enum SieveComparator: Sendable, Equatable {
    /// "i;octet": bytes as they are.
    case octet
    /// "i;ascii-casemap" (the default, RFC 5228 §2.7.3): ASCII letters compared without case.
    case asciiCasemap
    /// "i;ascii-numeric" (RFC 4790 §9.1): the leading digits as an unsigned number; a string
    /// without one is greater than every number and equal to every other such string.
    case asciiNumeric
}

enum SieveRelation: String, Sendable, Equatable {
    case gt, ge, lt, le, eq, ne
}

enum SieveMatchType: Sendable, Equatable {
    case `is`, contains, matches
    /// RFC 5231: compare each value, or the number of values, by a relation.
    case value(SieveRelation), count(SieveRelation)
}

struct SieveMatcher: Sendable, Equatable {
    var type: SieveMatchType = .is
    var comparator: SieveComparator = .asciiCasemap
}

enum SieveAddressPart: Sendable, Equatable {
    case all, localpart, domain
    /// RFC 5233: the local part before and after the separator "+".
    case user, detail
}

/// RFC 5260 §6: `:index N` counts fields from the top (from the bottom with `:last`).
struct SieveHeaderIndex: Sendable, Equatable {
    var index: Int
    var last: Bool
}

enum SieveBodyTransform: Sendable, Equatable {
    case raw, text
    case content([String])
}

enum SieveZone: Sendable, Equatable {
    case local
    case fixed(String)
    case original
}

struct SieveVacationSpec: Sendable {
    var period: Int
    var subject: String?
    var from: String?
    var addresses: [String]
    var mime: Bool
    var handle: String?
    var reason: String
}

enum SieveFlagOperation: Sendable {
    case set, add, remove
}

enum SieveSetModifier: String, Sendable, CaseIterable {
    case lower, upper, lowerfirst, upperfirst, quotewildcard, length

    /// RFC 5229 §4.1: applied from the highest precedence down; two of one precedence conflict.
    var precedence: Int {
        switch self {
        case .lower, .upper: 40
        case .lowerfirst, .upperfirst: 30
        case .quotewildcard: 20
        case .length: 10
        }
    }
}

indirect enum SieveCondition: Sendable {
    case constant(Bool)
    case not(SieveCondition)
    case allOf([SieveCondition])
    case anyOf([SieveCondition])
    case address(SieveMatcher, SieveAddressPart, SieveHeaderIndex?, headers: [String], keys: [String])
    case envelope(SieveMatcher, SieveAddressPart, parts: [String], keys: [String])
    case header(SieveMatcher, SieveHeaderIndex?, headers: [String], keys: [String])
    case exists([String])
    case size(over: Bool, limit: Int)
    case body(SieveMatcher, SieveBodyTransform, keys: [String])
    case hasFlag(SieveMatcher, variables: [String]?, keys: [String])
    case string(SieveMatcher, sources: [String], keys: [String])
    case date(SieveMatcher, SieveHeaderIndex?, SieveZone, header: String, part: String, keys: [String])
    case currentDate(SieveMatcher, SieveZone, part: String, keys: [String])
    case mailboxExists([String])
}

indirect enum SieveStatement: Sendable {
    case conditional([(SieveCondition, [SieveStatement])], otherwise: [SieveStatement]?)
    case stop
    case keep(flags: [String]?)
    case discard
    case fileinto(String, flags: [String]?, copy: Bool, create: Bool)
    case redirect(String, copy: Bool)
    case reject(String, ereject: Bool)
    case vacation(SieveVacationSpec)
    case flags(SieveFlagOperation, variable: String?, [String])
    case set(String, String, modifiers: [SieveSetModifier])
}
