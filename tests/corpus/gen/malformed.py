"""Malformed headers that real mail parsers still accept.

Each entry is written with raw header lines so the oddity survives serialisation.
"""

from common import msgid, received, seq
from mime import SUPPORT, rfc_date


def base(n, frm="Alice Martin <alice.martin@example.com>", rp="alice.martin@example.com"):
    h = [f"Return-Path: <{rp}>", f"Delivered-To: {SUPPORT}"]
    h += [f"{k}: {v}" for k, v in received(n, 1)]
    h.append(b"From: " + frm if isinstance(frm, bytes) else f"From: {frm}")
    return h


def cases():
    """(slug, header lines after the base, body, base kwargs)."""
    return [
        ("folded-subject", [
            "To: support@example.org",
            "Subject: Lost\n password\n\t for my\n   account",
            "Date: {date}", "Message-ID: {mid}"],
         "My password is lost, please help.\n", {}),
        ("no-space-after-colon", [
            "To:support@example.org",
            "Subject:Client certificate not installable",
            "Date:{date}", "Message-ID:{mid}"],
         "The certificate cannot be installed in my browser.\n", {}),
        ("bad-base64-word", [
            "To: support@example.org",
            "Subject: =?UTF-8?B?UGFzc3dvcmQgcmVzZXQ@@@?= help",
            "Date: {date}", "Message-ID: {mid}"],
         "The password reset does not work.\n", {}),
        ("bad-qp-word", [
            "To: support@example.org",
            "Subject: =?ISO-8859-1?Q?Zertifikat_f=FCr_Caf=E?= Server",
            "Date: {date}", "Message-ID: {mid}"],
         "Ich brauche ein Zertifikat.\n", {}),
        ("unknown-charset", [
            "To: support@example.org",
            "Subject: =?x-unknown-8?Q?Assurance_points?=",
            "Date: {date}", "Message-ID: {mid}",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=x-made-up",
            "Content-Transfer-Encoding: 8bit"],
         "Where are my assurance points?\n", {}),
        ("duplicate-subject", [
            "To: support@example.org",
            "Subject: Donation receipt",
            "Subject: Please delete my account",
            "Date: {date}", "Message-ID: {mid}"],
         "Two subjects in one message.\n", {}),
        ("duplicate-from", [
            "From: Bob Okafor <bob.okafor@example.net>",
            "To: support@example.org",
            "Subject: Who sent this?",
            "Date: {date}", "Message-ID: {mid}"],
         "Two From headers.\n", {}),
        ("date-zone-ut", [
            "To: support@example.org",
            "Subject: Old mailer, UT zone",
            "Date: Tue, 5 Mar 2024 09:15:00 UT",
            "Message-ID: {mid}", "X-Priority: 2"],
         "Sent from a very old mailer.\n", {}),
        ("date-zone-z", [
            "To: support@example.org",
            "Date: Wed, 6 Mar 2024 23:59:59 Z",
            "Subject: Certificate question with Z zone",
            "Message-ID: {mid}"],
         "Military zone Z in the date; the next header must survive.\n", {}),
        ("date-zone-est", [
            "To: support@example.org",
            "Subject: Assurance in EST",
            "Date: Thu, 7 Mar 2024 08:00:00 EST",
            "Message-ID: {mid}"],
         "Date with a named North American zone.\n", {}),
        ("date-two-digit-year", [
            "To: support@example.org",
            "Subject: Y2K style date",
            "Date: 12 Jan 99 10:00:00 GMT",
            "Message-ID: {mid}"],
         "Two digit year and GMT.\n", {}),
        ("date-comment-no-weekday", [
            "To: support@example.org",
            "Subject: Password with a commented date",
            "Date: 1 Feb 2024 10:00:00 -0000 (Coordinated Universal Time)",
            "Message-ID: {mid}"],
         "No weekday, a comment, and -0000.\n", {}),
        ("quoted-local-part", [
            "To: support@example.org",
            "Subject: Account question from a quoted address",
            "Date: {date}", "Message-ID: {mid}"],
         "My address has a quoted local part.\n",
         {"frm": "\"john doe\"@example.com", "rp": "\"john doe\"@example.com"}),
        ("escaped-local-part", [
            "To: support@example.org",
            "Subject: Escaped local part",
            "Date: {date}", "Message-ID: {mid}"],
         "My address has an escaped quote in its local part.\n",
         {"frm": "\"Jane \\\"JJ\\\" Smith\" <\"jane\\\"jj\"@example.net>", "rp": "jane.smith@example.net"}),
        ("dotted-quoted-local", [
            "To: \"support\"@example.org",
            "Subject: Certificate for quoted address",
            "Date: {date}", "Message-ID: {mid}"],
         "From a quoted dotted local part.\n",
         {"frm": "Kofi <\"kofi..mensah\"@example.com>", "rp": "kofi.mensah@example.com"}),
        ("raw-8bit-utf8", [
            "To: support@example.org",
            "Subject: Passwort zurücksetzen – bitte",
            "Date: {date}", "Message-ID: {mid}"],
         "Hallo, bitte Passwort zurücksetzen.\n",
         {"frm": "Jürgen Müller <juergen.mueller@example.com>", "rp": "juergen.mueller@example.com"}),
        ("raw-8bit-latin1", [
            "To: support@example.org",
            b"Subject: Gr\xfc\xdfe aus K\xf6ln - Zertifikat",
            "Date: {date}", "Message-ID: {mid}"],
         b"Mein Zertifikat funktioniert nicht. Gr\xfc\xdfe\n",
         {"frm": b"Anja Schr\xf6der <anja.schroeder@example.com>", "rp": "anja.schroeder@example.com"}),
        ("mixed-case-names", [
            "TO: support@example.org",
            "SUBJECT: Organisation Assurance question",
            "dAtE: {date}", "message-id: {mid}",
            "x-spam-flag: no"],
         "Header names in odd case.\n", {}),
        ("multipart-no-boundary", [
            "To: support@example.org",
            "Subject: Certificate attached (broken MIME)",
            "Date: {date}", "Message-ID: {mid}",
            "MIME-Version: 1.0", "Content-Type: multipart/mixed"],
         "There is no boundary parameter, so this is all one part.\n", {}),
        ("adjacent-encoded-words", [
            "To: support@example.org",
            "Subject: =?UTF-8?Q?Lost_?= =?UTF-8?Q?pass?=\n =?UTF-8?Q?word?= again",
            "Date: {date}", "Message-ID: {mid}"],
         "Encoded-words separated by folding whitespace join without a space.\n", {}),
        ("encoded-word-in-word", [
            "To: support@example.org",
            "Subject: Pass=?UTF-8?Q?wort?=problem",
            "Date: {date}", "Message-ID: {mid}"],
         "An encoded-word inside a word is not decoded by RFC 2047.\n", {}),
        ("long-references", [
            "To: support@example.org",
            "Subject: Re: Re: Re: Re: assurance",
            "References: " + " ".join(f"<ref{i}.thread@example.net>" for i in range(60)),
            "Date: {date}", "Message-ID: {mid}"],
         "A very long unfolded References header.\n", {}),
        ("empty-header-values", [
            "To: support@example.org",
            "Subject:",
            "Cc:",
            "X-Empty:",
            "Date: {date}", "Message-ID: {mid}"],
         "Empty subject and empty Cc.\n", {}),
        ("lowercase-cte", [
            "To: support@example.org",
            "Subject: Donation by PayPal",
            "Date: {date}", "Message-ID: {mid}",
            "mime-version: 1.0", "content-type: TEXT/PLAIN; CHARSET=ISO-8859-1",
            "content-transfer-encoding: QUOTED-PRINTABLE"],
         "Ich habe gespendet f=FCr den Server. Danke!\n", {}),
        ("no-date", [
            "To: support@example.org",
            "Subject: A message without a Date header",
            "Message-ID: {mid}"],
         "No date at all.\n", {}),
        ("whitespace-in-name", [
            "To: support@example.org",
            "Subject: Certificate renewal",
            "X-Odd-Header : value with a space before the colon",
            "Date: {date}", "Message-ID: {mid}"],
         "A header with whitespace before its colon.\n", {}),
    ]


def build():
    out = []
    for slug, lines, body, kw in cases():
        n = seq()
        h = base(n, **kw)
        for line in lines:
            if isinstance(line, str):
                line = line.replace("{date}", rfc_date(n)).replace("{mid}", msgid(n))
            h.append(line)
        out.append({"kind": "malformed", "slug": slug, "headers": h, "body": body})
    return out
