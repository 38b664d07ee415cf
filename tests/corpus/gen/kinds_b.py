"""Machine and hostile mail: DSN bounces, auto-replies, list traffic, spam, malformed headers,
and German and French requests."""

from common import msgid, received, seq, std, text_mime
from mime import FRENCH_PEOPLE, GERMAN_PEOPLE, PEOPLE, SUPPORT, addr, b64, ew_b, ew_q, qp, rfc_date
from texts import DE, EN, FR, SPAM

DSN_SUBJECTS = [
    ("Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.example.net", "Mail Delivery System"),
    ("Delivery Status Notification (Failure)", "mailer-daemon@example.com", None),
    ("failure notice", "MAILER-DAEMON@test.example", None),
    ("Mail delivery failed: returning message to sender", "Mailer-Daemon@example.net", "Mail Delivery System"),
    ("Returned mail: see transcript for details", "MAILER-DAEMON@relay.example.com", "Mail Delivery Subsystem"),
    ("Delivery Status Notification (Delay)", "postmaster@example.net", "Postmaster"),
    ("Undeliverable: Re: Your password reset", "postmaster@mail.example.com", "Microsoft Outlook"),
    ("Warning: message delayed 4 hours", "MAILER-DAEMON@mx2.example.net", None),
]


def dsn_kind():
    out = []
    for i, (subject, frm, name) in enumerate(DSN_SUBJECTS):
        n = seq()
        rcpt = PEOPLE[(n + i) % len(PEOPLE)][1]
        boundary = f"{n:05d}.{1700000000 + n}/mx.example.net"
        action = "delayed" if "Delay" in subject or "delayed" in subject else "failed"
        status = "4.4.7" if action == "delayed" else "5.1.1"
        inner_headers = (f"From: {SUPPORT}\nTo: {rcpt}\nSubject: Re: Your password reset\n"
                         f"Date: {rfc_date(n + 1)}\nMessage-ID: {msgid(n + 9000, 'example.org')}\n")
        returned = ("Content-Type: text/rfc822-headers\n\n" + inner_headers if i % 2 else
                    "Content-Type: message/rfc822\n\n" + inner_headers + "\nYour password was reset.\n")
        body = (f"This is a MIME-encapsulated message.\n\n--{boundary}\n"
                f"Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
                f"This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your "
                f"message could not\nbe delivered to one or more recipients.\n\n<{rcpt}>: host "
                f"mx.example.com said: 550 {status}\n    User unknown\n\n--{boundary}\n"
                f"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
                f"Reporting-MTA: dns; mx.example.net\nArrival-Date: {rfc_date(n)}\n\n"
                f"Final-Recipient: rfc822; {rcpt}\nOriginal-Recipient: rfc822;{rcpt}\nAction: {action}\n"
                f"Status: {status}\nDiagnostic-Code: smtp; 550 {status} User unknown\n\n--{boundary}\n"
                f"Content-Description: Undelivered Message\n{returned}\n--{boundary}--\n")
        h = [("Return-Path", "<>")]
        if i != 3:
            h.append(("Delivered-To", SUPPORT))
        h += received(n, 1)
        h += [("Date", rfc_date(n)), ("From", addr(name, frm)), ("Subject", subject), ("To", SUPPORT)]
        if i != 5:
            h.append(("Auto-Submitted", "auto-replied"))
        h += [("Message-ID", msgid(n, "mx.example.net")), ("MIME-Version", "1.0"),
              ("Content-Type", f"multipart/report; report-type=delivery-status;\n\tboundary=\"{boundary}\"")]
        out.append({"kind": "dsn", "slug": ["postfix", "gmail", "qmail", "exim", "sendmail", "delay",
                                            "exchange", "warning"][i], "headers": h, "body": body})
    return out


AUTO = [
    ("Out of office: Re: Your assurance", {"Auto-Submitted": "auto-replied"}, True,
     "I am out of the office until Monday with limited access to email.\n"),
    ("Automatische Antwort: Passwort vergessen", {"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"}, False,
     "Ich bin bis zum 15. nicht im Büro. In dringenden Fällen wenden Sie sich an meine Kollegin.\n"),
    ("Absence du bureau", {"X-Autoreply": "yes", "Precedence": "bulk"}, False,
     "Je suis absent du bureau jusqu'au 3 septembre.\n"),
    ("Auto: Re: [s20120418.179] Cannot add domain", {"Auto-Submitted": "auto-generated"}, True,
     "This is an automatic reply. Your message has been received.\n"),
    ("Re: Certificate expired", {"Auto-Submitted": "auto-replied (vacation)", "Precedence": "junk"}, False,
     "I am on vacation. I will read your message when I return.\n"),
    ("Out of Office AutoReply: Donation receipt", {"X-Autoreply": "yes", "X-Autorespond": "yes"}, False,
     "I'm away from my desk. For urgent matters call the office.\n"),
    ("Ticket received: s20250302.44", {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
     True, "Thank you for contacting the helpdesk. Your ticket number is s20250302.44.\n"),
    ("Automatic reply: Re: Dispute filed", {"Auto-Submitted": "no"}, False,
     "I am on leave. (This auto reply wrongly says Auto-Submitted: no.)\n"),
]


def autoreply_kind():
    out = []
    for i, (subject, extra, null_rp, body) in enumerate(AUTO):
        n = seq()
        who = PEOPLE[(n * 3) % len(PEOPLE)]
        h = std(n, who, subject, return_path=not null_rp, extra=list(extra.items()),
                mime=text_mime("utf-8", "8bit"))
        if null_rp:
            h.insert(0, ("Return-Path", "<>"))
        out.append({"kind": "autoreply", "slug": ["ooo", "de", "fr", "ack", "vacation", "outlook",
                                                  "helpdesk", "auto-no"][i], "headers": h, "body": body})
    return out


LISTS = [
    ("support-list.lists.example.org", "Community support", "[support] How do I import a certificate?",
     "list", "certificate"),
    ("disputes.lists.example.org", None, "[disputes] New case a20250110.2 assigned", "list", "dispute"),
    ("announce.lists.example.org", "Announcements", "[announce] Server maintenance on Saturday", "bulk", None),
    ("Support-List.Lists.Example.ORG", "Community Support", "[Support] Password reset help", "list", "password"),
    ("se.lists.example.org", None, "[se] Meeting minutes", None, None),
    ("policy.lists.example.org", "Policy group", "Re: [policy] Security Policy section 8 Support", "list", None),
    ("newsletter.example.com", "Monthly newsletter", "Our newsletter: privacy news", "bulk", "privacy"),
    (None, None, "Weekly digest", "bulk", None),
    (None, None, "Mailing list moderation request", "list", None),
]


def list_kind():
    out = []
    for i, (lid, desc, subject, prec, topic) in enumerate(LISTS):
        n = seq()
        who = PEOPLE[(n + i) % len(PEOPLE)]
        extra = []
        if lid:
            extra.append(("List-Id", f"{desc} <{lid}>" if desc else f"<{lid}>"))
            local = lid.split(".")[0].lower()
            extra += [("List-Unsubscribe", f"<mailto:{local}-leave@lists.example.org>"),
                      ("List-Post", f"<mailto:{local}@lists.example.org>")]
        if prec:
            extra.append(("Precedence", prec))
        body = EN[topic][0][1].replace("{name}", who[0]) if topic else "Dear subscribers,\n\nsee below.\n"
        body += "\n_______________________________________________\nList footer: unsubscribe at any time.\n"
        list_addr = f"{lid.split('.')[0].lower()}@lists.example.org" if lid else "digest@example.com"
        rp = f"{lid.split('.')[0].lower()}-bounces+support=example.org@lists.example.org" if lid else None
        h = std(n, who, subject, to=list_addr, rp_addr=rp, extra=extra)
        out.append({"kind": "list", "slug": (lid or "no-list-id").split(".")[0].lower(), "headers": h,
                    "body": body})
    return out


def spam_kind():
    out = []
    for i, (subject, body) in enumerate(SPAM):
        n = seq()
        frm = (["Lottery Office", "Cert Deals", "Mr. Banker", "Accounts", "SEO Pro", "IT Helpdesk",
                "Watches"][i], f"noreply{i}@spam.test.example")
        score = 8 + i * 1.7
        flag = "YES" if i != 4 else "Yes"
        subj = subject if i % 2 == 0 else ew_q(subject, "ISO-8859-1")
        extra = [("X-Spam-Flag", flag), ("X-Spam-Score", f"{score:.1f}"),
                 ("X-Spam-Level", "*" * int(score)),
                 ("X-Spam-Status", f"Yes, score={score:.1f} required=5.0 tests=BAYES_99,HTML_MESSAGE")]
        h = std(n, frm, subj, extra=extra, mime=text_mime("utf-8", "8bit"))
        out.append({"kind": "spam", "slug": ["lottery", "certs", "banker", "invoice", "seo", "phish",
                                             "watches"][i], "headers": h, "body": body})
    # Spam that is about passwords: must still land in Junk, not Accounts.
    n = seq()
    h = std(n, ("Security Team", "security@phish.test.example"), "Password expiry notice",
            extra=[("X-Spam-Flag", "YES"), ("X-Spam-Score", "15.2")])
    out.append({"kind": "spam", "slug": "password-phish", "headers": h,
                "body": "Your password expires today. Log in here to keep it.\n"})
    return out


def german_kind():
    out = []
    for i, (topic, (subject, body)) in enumerate(DE.items()):
        n = seq()
        who = GERMAN_PEOPLE[i % len(GERMAN_PEOPLE)]
        text = body.replace("{name}", who[0])
        charset = "iso-8859-1" if i % 2 else "utf-8"
        cte = "quoted-printable" if i % 3 != 2 else "8bit"
        payload = qp(text, charset) if cte == "quoted-printable" else text.encode(charset)
        subj = ew_q(subject, "ISO-8859-1") if i % 2 else ew_b(subject)
        extra = [("Content-Language", "de-DE")] if i % 2 == 0 else []
        h = std(n, who, subj, mime=text_mime(charset, cte), extra=extra)
        out.append({"kind": "de", "slug": topic, "headers": h, "body": payload})
    # A German message without umlauts or Content-Language: only the words tell.
    for topic, subject, body in [
        ("question", "Frage zur Anmeldung", "Hallo,\n\nwie kann ich mich anmelden? Vielen Dank.\n\nGruss\nKlaus\n"),
        ("certificate", "Zertifikat fuer Server",
         "Guten Tag,\n\nich brauche ein Zertifikat fuer meinen Server. Wie geht das?\n\nMfG\nAnja\n"),
        ("password", "Kennwort", "Hallo,\n\nmein Kennwort funktioniert nicht mehr. Bitte um Hilfe.\n\nTorsten\n"),
    ]:
        n = seq()
        who = GERMAN_PEOPLE[n % len(GERMAN_PEOPLE)]
        h = std(n, (None, who[1]), subject)
        out.append({"kind": "de", "slug": topic, "headers": h, "body": body})
    return out


def french_kind():
    out = []
    for i, (topic, (subject, body)) in enumerate(FR.items()):
        n = seq()
        who = FRENCH_PEOPLE[i % len(FRENCH_PEOPLE)]
        text = body.replace("{name}", who[0])
        charset = "utf-8" if i % 2 else "iso-8859-1"
        if i % 3 == 1:
            cte, payload = "base64", b64(text.encode(charset))
        else:
            cte, payload = "quoted-printable", qp(text, charset)
        subj = ew_b(subject) if i % 2 else ew_q(subject, "iso-8859-1")
        extra = [("Content-Language", "fr")] if i % 2 else []
        h = std(n, who, subj, mime=text_mime(charset, cte), extra=extra)
        out.append({"kind": "fr", "slug": topic, "headers": h, "body": payload})
    n = seq()
    who = FRENCH_PEOPLE[2]
    h = std(n, who, "Demande d'aide", mime=text_mime("utf-8", "8bit"))
    out.append({"kind": "fr", "slug": "question", "headers": h,
                "body": "Bonjour,\n\nje n'arrive pas à importer mon certificat dans Thunderbird.\n\nMerci\n"})
    n = seq()
    who = FRENCH_PEOPLE[3]
    h = std(n, who, "Litige concernant une vérification".encode("utf-8"))
    out.append({"kind": "fr", "slug": "dispute", "headers": h,
                "body": "Bonjour,\n\nje souhaite ouvrir un litige (dispute) contre un Assurer.\n\nJérôme\n"})
    return out


def build():
    import headeronly
    import malformed
    return (dsn_kind() + autoreply_kind() + list_kind() + spam_kind() + german_kind() + french_kind()
            + malformed.build() + headeronly.build())



