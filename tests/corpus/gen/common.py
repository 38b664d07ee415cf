"""Shared header builder for the corpus generator."""

import hashlib

from mime import SUPPORT, addr, rfc_date

_SEQ = [0]


def seq():
    """A global message number, used to vary dates, ids and optional headers."""
    _SEQ[0] += 1
    return _SEQ[0]


def msgid(n, domain="example.com"):
    h = hashlib.sha1(f"corpus-{n}".encode()).hexdigest()[:16]
    return f"<{h}.{n}@{domain}>"


def received(n, hops=2, zone=None):
    out = []
    for hop in range(hops):
        out.append(("Received",
                    f"from mx{hop + 1}.example.net (mx{hop + 1}.example.net [192.0.2.{10 + hop}])\n"
                    f"\tby mail.example.org (Postfix) with ESMTPS id {n:04X}{hop}A;\n"
                    f"\t{rfc_date(n + 3 * hop, zone)}"))
    return out


def std(n, frm, subject, to=SUPPORT, *, return_path=True, delivered_to=True, cc=None,
        date=None, mid=True, extra=(), hops=None, mime=None, rp_addr=None, dt_addr=None):
    """Headers of an ordinary inbound message.

    frm is (name, email). Most messages carry Return-Path and Delivered-To, as a
    Dovecot mail store writes them; a few (by n) leave one out so both envelope
    fallbacks are exercised.
    """
    h = []
    if return_path and n % 11 != 5:
        h.append(("Return-Path", f"<{rp_addr or frm[1]}>"))
    if delivered_to and n % 13 != 6:
        h.append(("Delivered-To", dt_addr or SUPPORT))
    h += received(n, hops if hops is not None else 1 + n % 3)
    h.append(("From", addr(*frm)))
    h.append(("To", to))
    if cc:
        h.append(("Cc", cc))
    h.append(("Subject", subject))
    h.append(("Date", date or rfc_date(n)))
    if mid:
        h.append(("Message-ID", msgid(n, frm[1].split("@")[1])))
    if mime is not None:
        h.append(("MIME-Version", "1.0"))
        h += mime
    h += list(extra)
    if n % 4 == 0:
        h.append(("X-Spam-Flag", "NO"))
        h.append(("X-Spam-Score", f"{(n % 30) / 10:.1f}"))
    return h


def text_mime(charset="utf-8", cte="8bit"):
    return [("Content-Type", f"text/plain; charset={charset}"),
            ("Content-Transfer-Encoding", cte)]
