"""Header-only mail and headers that run into text: valid mail (RFC 5322 §3.5 makes the body
optional) that Pigeonhole sorts by the rules. Each is written byte for byte ("raw"), since the
point is what comes, or does not come, after the header.
"""

from common import msgid, seq
from mime import SUPPORT, rfc_date


def head(n, subject, frm="Carol Meyer <carol.meyer@example.com>", rp="carol.meyer@example.com"):
    return (f"Return-Path: <{rp}>\nDelivered-To: {SUPPORT}\nFrom: {frm}\nTo: {SUPPORT}\n"
            f"Subject: {subject}\nDate: {rfc_date(n)}\nMessage-ID: {msgid(n)}\n")


def cases(n):
    """(slug, bytes before line-end conversion, crlf)."""
    return [
        ("no-blank-line", head(n, "Password reset please"), False),
        ("no-final-newline", head(n + 1, "Delete my account").rstrip("\n"), False),
        ("runs-into-text", head(n + 2, "Question about a dispute")
         + "I would like to file a dispute about my certificate.\nThanks\n", False),
        ("runs-into-field", head(n + 3, "Certificate renewal")
         + "this line is no header field\nX-Later: yes\n\nThe body after the header.\n", False),
        ("crlf-no-blank-line", head(n + 4, "Payment receipt for my donation"), True),
        ("text-with-colon", head(n + 5, "Login problem")
         + "Note that: my password does not work\nBonjour\n", False),
        ("text-before-fields", "Just some text before the header\n" + head(n + 6, "Account locked")
         + "\nand a body: password help\n", False),
    ]


def build():
    out = []
    n = seq()
    for slug, text, crlf in cases(n):
        seq()
        data = text.encode("utf-8")
        if crlf:
            data = data.replace(b"\n", b"\r\n")
        out.append({"kind": "headeronly", "slug": slug, "raw": data})
    return out
