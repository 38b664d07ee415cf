"""Ordinary requests and MIME encodings: plain, qp, b64, encoded-words, html, attachments,
missing Message-ID, subaddressed, large."""

import hashlib

from common import msgid, seq, std, text_mime
from mime import PEOPLE, SUPPORT, addr, b64, ew_b, ew_q, qp
from texts import EN

TOPIC_SLUG = {
    "password": "password", "assurance": "assurance", "certificate": "certificate",
    "dispute": "dispute", "ticket": "ticket", "payment": "payment", "privacy": "privacy",
    "orga": "org-assurance", "triage": "question",
}


def person(n):
    return PEOPLE[n % len(PEOPLE)]


def fill(body, who):
    return body.replace("{name}", who[0])


def plain():
    """Every English topic text once as a plain 7bit/8bit message."""
    out = []
    for topic, items in EN.items():
        for i, (subject, body) in enumerate(items):
            n = seq()
            who = person(n)
            cc = None
            if topic == "dispute" and i % 2 == 0:
                cc = "disputes@lists.example.org, case-manager@example.org"
            if topic == "triage" and i == 1:
                cc = ("alice.martin@example.com, bob.okafor@example.net, "
                      "carla.ruiz@example.com, dvolkov@test.example")
            mime = text_mime("us-ascii", "7bit") if n % 2 else None
            extra = []
            if topic == "ticket":
                extra.append(("In-Reply-To", msgid(n + 1000, "example.org")))
                extra.append(("References", msgid(n + 1000, "example.org")))
            if n % 5 == 2:
                extra.append(("X-Priority", str(1 + n % 5)))
            h = std(n, who, subject, cc=cc, mime=mime, extra=extra)
            out.append({"kind": "plain", "slug": TOPIC_SLUG[topic], "headers": h,
                        "body": fill(body, who)})
    return out


def qp_kind():
    out = []
    picks = [("password", 0), ("assurance", 1), ("certificate", 2), ("dispute", 2),
             ("privacy", 0), ("payment", 0), ("orga", 0), ("triage", 1),
             ("password", 3), ("certificate", 4)]
    for topic, idx in picks:
        n = seq()
        who = person(n + 3)
        subject, body = EN[topic][idx]
        body = fill(body, who) + "\nP.S. Caf\u00e9 \u2013 na\u00efve r\u00e9sum\u00e9 = fine.\n" + (
            "A long line that goes beyond seventy-six characters so the encoder must insert a soft "
            "line break here.\n")
        charset = "iso-8859-1" if n % 2 else "utf-8"
        body = body.replace("\u2013", "-") if charset == "iso-8859-1" else body
        h = std(n, who, subject, mime=text_mime(charset, "quoted-printable"))
        out.append({"kind": "qp", "slug": TOPIC_SLUG[topic], "headers": h,
                    "body": qp(body, charset)})
    return out


def b64_kind():
    out = []
    picks = [("password", 1), ("assurance", 0), ("certificate", 0), ("dispute", 0),
             ("privacy", 1), ("payment", 1), ("ticket", 0), ("triage", 0)]
    for topic, idx in picks:
        n = seq()
        who = person(n + 5)
        subject, body = EN[topic][idx]
        h = std(n, who, subject, mime=text_mime("utf-8", "base64"))
        out.append({"kind": "b64", "slug": TOPIC_SLUG[topic], "headers": h,
                    "body": b64(fill(body, who))})
    return out


ISO_SUBJECTS = [
    ("password", "Passwort zur\u00fccksetzen f\u00fcr mein Konto",
     "Hallo,\n\nbitte setzen Sie mein Passwort zur\u00fcck.\n\nGr\u00fc\u00dfe\n{name}\n"),
    ("certificate", "Certificat expir\u00e9 - renouvellement",
     "Bonjour,\n\nmon certificat a expir\u00e9 hier.\n\n{name}\n"),
    ("assurance", "Assurance points for J\u00f6rg",
     "Hello,\n\nJ\u00f6rg was assured at the meeting; the points are missing.\n\n{name}\n"),
    ("privacy", "L\u00f6schung meiner Daten",
     "Hallo,\n\nich bitte um L\u00f6schung meines Kontos und meiner Daten.\n\n{name}\n"),
    ("payment", "Don re\u00e7u ?",
     "Bonjour,\n\navez-vous re\u00e7u mon don ?\n\n{name}\n"),
    ("triage", "Se\u00f1or Garc\u00eda asks a question",
     "Hello,\n\nI am writing for Se\u00f1or Garc\u00eda who does not speak English.\n\n{name}\n"),
    ("dispute", "Streitfall \u00fcber Punkte",
     "Hallo,\n\nich m\u00f6chte einen Dispute \u00fcber falsch vergebene Punkte einreichen.\n\n{name}\n"),
]


def iso_ew():
    out = []
    for i, (topic, subject, body) in enumerate(ISO_SUBJECTS):
        n = seq()
        who = person(n)
        # Alternate lower/upper case charset labels and Q/B encodings.
        enc = ew_q(subject, "ISO-8859-1" if i % 2 else "iso-8859-1")
        h = std(n, who, enc, mime=text_mime("iso-8859-1", "8bit"))
        body_bytes = fill(body, who).encode("iso-8859-1")
        out.append({"kind": "isoew", "slug": TOPIC_SLUG[topic], "headers": h, "body": body_bytes})
    return out


UTF8_SUBJECTS = [
    ("password", "Пароль утерян – lost password", "Hello,\n\nI lost my password (пароль).\n\n{name}\n"),
    ("certificate", "証明書のエラー: certificate error",
     "Hello,\n\nmy certificate shows an error in the browser.\n\n{name}\n"),
    ("dispute", "Dispute über Zertifikat – a20240101.2",
     "Hello,\n\nregarding dispute a20240101.2, here is my statement.\n\n{name}\n"),
    ("assurance", "Assurance ✔ done?", "Hi,\n\nwas my assurance entered?\n\n{name}\n"),
    ("triage", "Ελληνικά: question", "Hello,\n\nI have a general question.\n\n{name}\n"),
    ("privacy", "Supprimer mon compte ❌", "Bonjour,\n\nje veux supprimer mon compte.\n\n{name}\n"),
    ("payment", "Donation 💶 receipt", "Hello,\n\nplease send a donation receipt.\n\n{name}\n"),
]


def utf8_ew():
    out = []
    for i, (topic, subject, body) in enumerate(UTF8_SUBJECTS):
        n = seq()
        who = ("Zoë Ångström", "zoe.angstrom@example.net") if i % 3 == 0 else person(n)
        enc = ew_b(subject) if i % 2 == 0 else ew_q(subject, "UTF-8")
        h = std(n, who, enc, mime=text_mime("utf-8", "8bit"))
        out.append({"kind": "utf8ew", "slug": TOPIC_SLUG[topic], "headers": h,
                    "body": fill(body, who)})
    return out


def html_body(title, text):
    paras = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in text.strip().split("\n\n"))
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>p {{ font-family: sans-serif; }}</style></head>\n<body>\n{paras}</body></html>\n")


def html_kind():
    out = []
    picks = [("password", 2), ("certificate", 1), ("dispute", 4), ("privacy", 2),
             ("assurance", 3), ("triage", 2), ("payment", 2)]
    for i, (topic, idx) in enumerate(picks):
        n = seq()
        who = person(n + 1)
        subject, body = EN[topic][idx]
        html = html_body(subject, fill(body, who))
        cte = ["7bit", "quoted-printable", "base64"][i % 3]
        if cte == "quoted-printable":
            payload = qp(html)
        elif cte == "base64":
            payload = b64(html)
        else:
            payload = html
        mime = [("Content-Type", "text/html; charset=\"utf-8\""), ("Content-Transfer-Encoding", cte)]
        h = std(n, who, subject, mime=mime)
        out.append({"kind": "html", "slug": TOPIC_SLUG[topic], "headers": h, "body": payload})
    return out


def fake_bytes(seed, size):
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


PEM_CSR = ("-----BEGIN CERTIFICATE REQUEST-----\n"
           + b64(fake_bytes("csr", 600)).strip() + "\n-----END CERTIFICATE REQUEST-----\n")


ATTACHMENTS = [
    ("certificate", 0, "request.csr", "application/pkcs10", None),
    ("certificate", 3, "cert.pem", "application/x-x509-user-cert", None),
    ("assurance", 1, "cap-form.pdf", "application/pdf", 4000),
    ("dispute", 0, "evidence.png", "image/png", 3000),
    ("payment", 0, "bank-transfer.pdf", "application/pdf", 2500),
    ("privacy", 1, "id-scan.jpg", "image/jpeg", 5000),
    ("triage", 2, "screenshot.png", "image/png", 1500),
    ("orga", 1, "registry-extract.pdf", "application/pdf", 6000),
]


def attach_kind():
    out = []
    for i, (topic, idx, fname, ctype, size) in enumerate(ATTACHMENTS):
        n = seq()
        who = person(n + 2)
        subject, body = EN[topic][idx]
        boundary = f"=_corpus_{n:04d}_boundary"
        if size is None:
            att = PEM_CSR
            att_cte, att_payload = "7bit", att
        else:
            att_cte, att_payload = "base64", b64(fake_bytes(fname, size))
        disp = f"attachment; filename=\"{fname}\"" if i % 4 else f"attachment;\n\tfilename={fname}"
        parts = (f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
                 f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                 f"{fill(body, who)}\n--{boundary}\n"
                 f"Content-Type: {ctype}; name=\"{fname}\"\nContent-Transfer-Encoding: {att_cte}\n"
                 f"Content-Disposition: {disp}\n\n{att_payload}\n--{boundary}--\n")
        mime = [("Content-Type", f"multipart/mixed;\n\tboundary=\"{boundary}\"")]
        h = std(n, who, subject, mime=mime)
        out.append({"kind": "attach", "slug": TOPIC_SLUG[topic], "headers": h, "body": parts})
    # A forwarded message as message/rfc822 attachment.
    n = seq()
    who = person(n)
    boundary = f"=_fwd_{n:04d}"
    inner = ("From: Carla Ruiz <carla.ruiz@example.com>\nTo: board@example.org\n"
             "Subject: Arbitration case a20190301.4 closed\nDate: Mon, 4 Mar 2019 10:00:00 +0100\n"
             f"Message-ID: {msgid(n + 5000)}\n\nThe case is closed, see the ruling.\n")
    parts = (f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n"
             f"Forwarding the message below for your records.\n\n{who[0]}\n\n--{boundary}\n"
             f"Content-Type: message/rfc822\nContent-Disposition: inline\n\n{inner}\n--{boundary}--\n")
    h = std(n, who, "Fwd: closed case", mime=[("Content-Type", f"multipart/mixed; boundary=\"{boundary}\"")])
    out.append({"kind": "attach", "slug": "forwarded", "headers": h, "body": parts})
    # S/MIME signed request.
    n = seq()
    who = person(n)
    boundary = f"----=_signed_{n:04d}"
    subject, body = EN["password"][4]
    parts = (f"This is an S/MIME signed message\n\n--{boundary}\n"
             f"Content-Type: text/plain; charset=utf-8\n\n{fill(body, who)}\n--{boundary}\n"
             f"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
             f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"smime.p7s\"\n\n"
             f"{b64(fake_bytes('p7s', 1200))}\n--{boundary}--\n")
    mime = [("Content-Type", f"multipart/signed; protocol=\"application/pkcs7-signature\"; "
             f"micalg=sha-256;\n boundary=\"{boundary}\"")]
    h = std(n, who, subject, mime=mime)
    out.append({"kind": "attach", "slug": "smime-signed", "headers": h, "body": parts})
    return out


def nomsgid_kind():
    out = []
    picks = [("password", 0), ("assurance", 2), ("certificate", 1), ("privacy", 0),
             ("triage", 3), ("dispute", 1), ("payment", 2)]
    for topic, idx in picks:
        n = seq()
        who = person(n + 7)
        subject, body = EN[topic][idx]
        h = std(n, who, subject, mid=False)
        out.append({"kind": "nomsgid", "slug": TOPIC_SLUG[topic], "headers": h,
                    "body": fill(body, who)})
    return out


SUBADDR = [
    ("support+privacy@example.org", "privacy", 2),
    ("support+disputes@example.org", "dispute", 4),
    ("support+de@example.org", "triage", 0),
    ("support+billing@example.org", "payment", 0),
    ("Support+Ticket@example.org", "ticket", 1),
    ("support+@example.org", "triage", 1),
]


def subaddr_kind():
    out = []
    for rcpt, topic, idx in SUBADDR:
        n = seq()
        who = person(n)
        subject, body = EN[topic][idx]
        h = std(n, who, subject, to=rcpt, dt_addr=rcpt)
        out.append({"kind": "subaddr", "slug": TOPIC_SLUG[topic], "headers": h,
                    "body": fill(body, who)})
    return out


def large_kind():
    out = []
    for size, topic, idx in [(150000, "certificate", 2), (60000, "assurance", 4), (40000, "triage", 1)]:
        n = seq()
        who = person(n)
        subject, body = EN[topic][idx]
        boundary = f"=_large_{n:04d}"
        parts = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{fill(body, who)}\n"
                 f"--{boundary}\nContent-Type: application/octet-stream; name=\"logs.tar.gz\"\n"
                 f"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"logs.tar.gz\"\n\n"
                 f"{b64(fake_bytes(str(size), size))}--{boundary}--\n")
        h = std(n, who, subject + " (logs attached)",
                mime=[("Content-Type", f"multipart/mixed; boundary=\"{boundary}\"")])
        out.append({"kind": "large", "slug": TOPIC_SLUG[topic], "headers": h, "body": parts})
    return out


def multi_rcpt_kind():
    """Messages with several recipients and Cc, for :count and address tests."""
    out = []
    rcpts = [
        (f"{SUPPORT}, board@example.org", "help@example.org"),
        (f"\"Support Team\" <{SUPPORT}>", None),
        ("undisclosed-recipients:;", None),
        (f"{addr('Triage', 'triage@example.org')}, {SUPPORT}, {addr('Se Team', 'se@example.org')}",
         "alice.martin@example.com, grace.liu@example.net"),
        ("help@example.org", SUPPORT),
    ]
    for i, (to, cc) in enumerate(rcpts):
        n = seq()
        who = person(n)
        topic = ["assurance", "triage", "certificate", "dispute", "password"][i]
        subject, body = EN[topic][i % len(EN[topic])]
        h = std(n, who, subject, to=to, cc=cc)
        out.append({"kind": "rcpt", "slug": TOPIC_SLUG[topic], "headers": h, "body": fill(body, who)})
    return out


def build():
    return (plain() + qp_kind() + b64_kind() + iso_ew() + utf8_ew() + html_kind() + attach_kind()
            + nomsgid_kind() + subaddr_kind() + large_kind() + multi_rcpt_kind())
