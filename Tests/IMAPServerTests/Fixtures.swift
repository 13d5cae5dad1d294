/// Real-world shaped messages for the builder tests (CRLF line ends as stored).
enum Fixtures {
    static func crlf(_ s: String) -> [UInt8] {
        Array(s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    static let simple = crlf("""
        From: Alice <alice@example.test>
        To: bob@example.test
        Subject: hi
        Date: Mon, 2 Mar 2026 09:30:00 -0500
        Message-ID: <simple@example.test>

        Hello
        World

        """)

    /// Thunderbird-style: mixed { alternative { plain (QP), html }, forwarded message, image with an
    /// RFC 2231 continued filename }.
    static let nested = crlf("""
        From: "Doe, Jane" <jane@example.net>
        Sender: list@example.org
        Reply-To: replies@example.org
        To: team:alice@example.test,bob@example.test;, carol@example.test
        Cc: =?ISO-8859-1?Q?Andr=E9?= <andre@example.net>
        Subject: =?UTF-8?B?UmU6IFByb2pla3Q=?=
        Date: Tue, 3 Mar 2026 10:00:00 +0100
        In-Reply-To: <orig@example.net>
        Message-ID: <nested@example.net>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        This is a multi-part message in MIME format.
        --outer
        Content-Type: multipart/alternative; boundary="inner"

        --inner
        Content-Type: text/plain; charset=UTF-8; format=flowed
        Content-Transfer-Encoding: quoted-printable

        Gr=C3=BC=C3=9Fe
        --inner
        Content-Type: text/html; charset=UTF-8
        Content-Transfer-Encoding: 7bit

        <p>Hi</p>
        --inner--

        --outer
        Content-Type: message/rfc822
        Content-Description: forwarded

        From: old@example.com
        Subject: original
        Date: Sun, 1 Mar 2026 08:00:00 +0000

        old body
        --outer
        Content-Type: image/png; name="pic.png"
        Content-Disposition: attachment;
         filename*0="very-long-";
         filename*1="name.png"
        Content-Transfer-Encoding: base64
        Content-ID: <img1@example.net>
        Content-Language: de

        iVBORw0KGgo=
        --outer--

        """)

    /// Broken: a multipart without a boundary parameter, and a part with an unknown encoding.
    static let malformed = crlf("""
        From: broken
        Subject: broken
        Content-Type: multipart/mixed

        no boundary at all

        """)

    static let unknownEncoding = crlf("""
        From: a@example.net
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: application/octet-stream
        Content-Transfer-Encoding: x-uuencode

        begin 644 x
        --b--

        """)

    /// 8-bit header (RFC 6532) and a Latin-1 body.
    static let eightBit = Array("From: Jörg <joerg@example.net>\r\nSubject: Grüße\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".utf8)
        + [0x47, 0x72, 0xFC, 0xDF, 0x65, 0x0D, 0x0A]
}
