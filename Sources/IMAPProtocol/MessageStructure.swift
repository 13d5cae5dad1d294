/// The ENVELOPE of a message (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
///
/// Every field holds the raw header octets (unfolded, but not decoded: RFC 2047 encoded-words
/// stay as they are); `nil` or an empty list is sent as NIL. Filling `sender` and `replyTo` from
/// `from` when those headers are absent (RFC 9051 §7.5.2) is the builder's job.
///
/// ```
/// envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to SP
///            env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
/// env-from = "(" 1*address ")" / nil          ; likewise sender, reply-to, to, cc, bcc
/// ```
public struct Envelope: Sendable, Hashable {
    /// One address or group marker (RFC 9051 §7.5.2).
    ///
    /// ```
    /// address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
    /// ```
    ///
    /// Group syntax (RFC 5322 §3.4) is a start marker with NIL host and the group name as
    /// mailbox, the members, and an end marker with NIL mailbox and host.
    public struct Address: Sendable, Hashable {
        /// Display name (phrase).
        public var name: [UInt8]?
        /// Source route (obsolete at-domain-list).
        public var adl: [UInt8]?
        /// Local part, or the group name in a group start marker.
        public var mailbox: [UInt8]?
        /// Domain; `nil` marks group syntax.
        public var host: [UInt8]?

        public init(name: [UInt8]? = nil, adl: [UInt8]? = nil, mailbox: [UInt8]?, host: [UInt8]?) {
            self.name = name
            self.adl = adl
            self.mailbox = mailbox
            self.host = host
        }

        /// Convenience for ASCII / UTF-8 text.
        public init(name: String?, mailbox: String, host: String) {
            self.init(name: name.map { Array($0.utf8) }, mailbox: Array(mailbox.utf8), host: Array(host.utf8))
        }

        /// `(NIL NIL "name" NIL)`: the start of group `name`.
        public static func groupStart(_ name: String) -> Address {
            Address(mailbox: Array(name.utf8), host: nil)
        }

        /// `(NIL NIL NIL NIL)`: the end of a group.
        public static let groupEnd = Address(mailbox: nil, host: nil)
    }

    public var date: [UInt8]?
    public var subject: [UInt8]?
    public var from: [Address]
    public var sender: [Address]
    public var replyTo: [Address]
    public var to: [Address]
    public var cc: [Address]
    public var bcc: [Address]
    public var inReplyTo: [UInt8]?
    public var messageID: [UInt8]?

    public init(date: [UInt8]? = nil, subject: [UInt8]? = nil, from: [Address] = [], sender: [Address] = [],
                replyTo: [Address] = [], to: [Address] = [], cc: [Address] = [], bcc: [Address] = [],
                inReplyTo: [UInt8]? = nil, messageID: [UInt8]? = nil) {
        self.date = date
        self.subject = subject
        self.from = from
        self.sender = sender
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.inReplyTo = inReplyTo
        self.messageID = messageID
    }
}

/// A `name value` pair of a body parameter list (RFC 9051 §9 `body-fld-param`), e.g. `charset`.
public struct BodyParameter: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil` (RFC 9051 §9)
public struct BodyDisposition: Sendable, Hashable {
    /// e.g. `attachment`, `inline`.
    public var type: String
    public var parameters: [BodyParameter]
    public init(type: String, parameters: [BodyParameter] = []) {
        self.type = type
        self.parameters = parameters
    }
}

/// The fields every non-multipart body has (RFC 9051 §7.5.2).
///
/// ```
/// body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
/// ```
public struct BodyFields: Sendable, Hashable {
    public var parameters: [BodyParameter]
    /// Content-ID.
    public var id: String?
    /// Content-Description.
    public var description: String?
    /// Content-Transfer-Encoding, e.g. `7BIT`, `BASE64`.
    public var encoding: String
    /// Size of the body in its transfer encoding.
    public var octets: UInt64

    public init(parameters: [BodyParameter] = [], id: String? = nil, description: String? = nil,
                encoding: String = "7BIT", octets: UInt64) {
        self.parameters = parameters
        self.id = id
        self.description = description
        self.encoding = encoding
        self.octets = octets
    }
}

/// The extension data of BODYSTRUCTURE, never sent with BODY (RFC 9051 §7.5.2).
///
/// ```
/// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
/// body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]
/// body-fld-lang  = nstring / "(" string *(SP string) ")"
/// body-fld-loc   = nstring
/// ```
public struct BodyExtension: Sendable, Hashable {
    /// Content-MD5 (single parts only; multiparts send their parameters instead).
    public var md5: String?
    public var disposition: BodyDisposition?
    /// Content-Language tags; empty is NIL.
    public var language: [String]
    /// Content-Location.
    public var location: String?

    public init(md5: String? = nil, disposition: BodyDisposition? = nil, language: [String] = [], location: String? = nil) {
        self.md5 = md5
        self.disposition = disposition
        self.language = language
        self.location = location
    }
}

/// The MIME structure of a message as BODY / BODYSTRUCTURE report it (RFC 9051 §7.5.2, §9).
/// MailCore builds these from parsed messages; this module only encodes them.
///
/// ```
/// body           = "(" (body-type-1part / body-type-mpart) ")"
/// body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
/// body-type-basic = media-basic SP body-fields
/// body-type-msg   = media-message SP body-fields SP envelope SP body SP body-fld-lines
/// body-type-text  = media-text SP body-fields SP body-fld-lines
/// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
/// ```
public indirect enum BodyStructure: Sendable, Hashable {
    case singlePart(SinglePart)
    case multipart(Multipart)

    /// A non-multipart body.
    public struct SinglePart: Sendable, Hashable {
        /// What follows `body-fields`, by media type.
        public indirect enum Kind: Sendable, Hashable {
            /// Any type other than text/* and message/rfc822 (or message/global).
            case basic
            /// `text/*`: line count of the body.
            case text(lines: UInt64)
            /// `message/rfc822` / `message/global`: the encapsulated message's envelope, structure and lines.
            case message(envelope: Envelope, body: BodyStructure, lines: UInt64)
        }

        /// e.g. `TEXT`, `APPLICATION`.
        public var type: String
        /// e.g. `PLAIN`, `PDF`.
        public var subtype: String
        public var fields: BodyFields
        public var kind: Kind
        public var `extension`: BodyExtension

        public init(type: String, subtype: String, fields: BodyFields, kind: Kind = .basic, extension: BodyExtension = BodyExtension()) {
            self.type = type
            self.subtype = subtype
            self.fields = fields
            self.kind = kind
            self.extension = `extension`
        }
    }

    /// A multipart body.
    public struct Multipart: Sendable, Hashable {
        public var parts: [BodyStructure]
        /// e.g. `MIXED`, `ALTERNATIVE`.
        public var subtype: String
        /// Content-Type parameters (e.g. `boundary`), sent only in BODYSTRUCTURE.
        public var parameters: [BodyParameter]
        /// Disposition, language, location (`md5` is ignored for multiparts).
        public var `extension`: BodyExtension

        public init(parts: [BodyStructure], subtype: String, parameters: [BodyParameter] = [], extension: BodyExtension = BodyExtension()) {
            self.parts = parts
            self.subtype = subtype
            self.parameters = parameters
            self.extension = `extension`
        }
    }
}
