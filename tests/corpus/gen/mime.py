"""Low-level helpers for the corpus generator: encodings, headers, serialisation.

Everything here is deterministic: no clock, no randomness, no environment.
"""

import base64
import quopri

PEOPLE = [
    ("Alice Martin", "alice.martin@example.com"),
    ("Bob Okafor", "bob.okafor@example.net"),
    ("Carla Ruiz", "carla.ruiz@example.com"),
    ("Dmitri Volkov", "dvolkov@test.example"),
    ("Erin O'Neill", "erin@example.net"),
    ("Farid Haddad", "farid.haddad@example.com"),
    ("Grace Liu", "grace.liu@example.net"),
    ("Hannah Becker", "hannah.becker@example.com"),
    ("Ivo Petrov", "ivo@test.example"),
    ("Jun Tanaka", "jun.tanaka@example.net"),
    ("Kofi Mensah", "kofi.mensah@example.com"),
    ("Lena Johansson", "lena.j@example.net"),
    ("Marco Bianchi", "marco.bianchi@example.com"),
    ("Nadia Rahman", "nadia@test.example"),
    ("Oscar Lindqvist", "oscar.lindqvist@example.net"),
    ("Priya Nair", "priya.nair@example.com"),
]

GERMAN_PEOPLE = [
    ("Jürgen Müller", "juergen.mueller@example.com"),
    ("Sabine Groß", "sabine.gross@example.net"),
    ("Klaus Weiß", "klaus.weiss@test.example"),
    ("Anja Schröder", "anja.schroeder@example.com"),
    ("Torsten Köhler", "tkoehler@example.net"),
]

FRENCH_PEOPLE = [
    ("Élodie Dubois", "elodie.dubois@example.com"),
    ("François Lefèvre", "f.lefevre@example.net"),
    ("Hélène Garçon", "helene.garcon@test.example"),
    ("Jérôme Bérard", "jerome.berard@example.com"),
    ("Chloé Mercier", "chloe.mercier@example.net"),
]

SUPPORT = "support@example.org"
ZONES = ["+0000", "+0100", "+0200", "-0500", "+0530", "-0800", "+1000", "-0300"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def rfc_date(n, zone=None):
    """A plausible RFC 5322 date derived from the message number n."""
    day = 1 + (n * 7) % 28
    month = (n * 5) % 12
    year = 2019 + (n % 7)
    hour = (n * 3) % 24
    minute = (n * 17) % 60
    second = (n * 31) % 60
    zone = zone if zone is not None else ZONES[n % len(ZONES)]
    weekday = DAYS[(day + month * 3 + year) % 7]
    return f"{weekday}, {day} {MONTHS[month]} {year} {hour:02d}:{minute:02d}:{second:02d} {zone}"


def qp(text, charset="utf-8"):
    """Quoted-printable body bytes for text in the given charset."""
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def b64(data):
    """Base64 body wrapped at 76 columns, as RFC 2045 asks."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    enc = base64.b64encode(data).decode("ascii")
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\n"


def ew_q(text, charset="ISO-8859-1"):
    """An RFC 2047 Q encoded-word."""
    out = []
    for byte in text.encode(charset):
        ch = chr(byte)
        if ch == " ":
            out.append("_")
        elif ch.isalnum() and byte < 128:
            out.append(ch)
        else:
            out.append(f"={byte:02X}")
    return f"=?{charset}?Q?{''.join(out)}?="


def ew_b(text, charset="UTF-8"):
    """An RFC 2047 B encoded-word."""
    enc = base64.b64encode(text.encode(charset)).decode("ascii")
    return f"=?{charset}?B?{enc}?="


def addr(name, email):
    if name is None:
        return email
    if any(c in name for c in ",.'\"()"):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{email}>'
    try:
        name.encode("ascii")
        return f"{name} <{email}>"
    except UnicodeEncodeError:
        return f"{ew_b(name)} <{email}>"


def serialise(headers, body, crlf):
    """Join header lines (already folded as wanted) and the body into bytes.

    A header entry is either (name, value) or a raw str line (used for malformed
    headers); values may be str (UTF-8) or bytes (raw 8-bit).
    """
    parts = []
    for h in headers:
        if isinstance(h, tuple):
            name, value = h
            if isinstance(value, bytes):
                parts.append(name.encode("ascii") + b": " + value)
            else:
                parts.append(f"{name}: {value}".encode("utf-8"))
        elif isinstance(h, bytes):
            parts.append(h)
        else:
            parts.append(h.encode("utf-8"))
    head = b"\n".join(parts) + b"\n\n"
    if isinstance(body, str):
        body = body.encode("utf-8")
    data = head + body
    if not data.endswith(b"\n"):
        data += b"\n"
    # Normalise to LF first so CRLF conversion never doubles an existing CR.
    data = data.replace(b"\r\n", b"\n")
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    return data
