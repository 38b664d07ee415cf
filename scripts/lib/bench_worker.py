#!/usr/bin/env python3
"""Helpers for scripts/bench-worker and scripts/bench-mailboxes: seed a test mailbox from the corpus,
reset it between runs, the server's floor (a plain FETCH + MOVE client), and the latency probes
(triaged's delivery-to-moved time read from its store, a bare IDLE client's delivery-to-EXISTS time, and
both at once over many mailboxes). Standard library only."""

import argparse
import glob
import imaplib
import os
import random
import re
import smtplib
import socket
import sqlite3
import ssl
import statistics
import sys
import time

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "corpus")
FILLER = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
          b"incididunt ut labore et dolore magna aliqua.\r\n")
# UIDs per FETCH + MOVE in the floor: the size of the groups triaged applies its verdicts in.
FLOOR_GROUP = 5_000


def corpus():
    """Corpus messages with CRLF line ends and no Message-ID, as the integration tests build them.

    Header-only messages (no empty line after the header) are left out: the figures quoted in the README
    were measured before the corpus had them, and builds from before they were sorted by the rules
    quarantine them, so a run comparing two builds (scripts/bench-ab) would wait for a move that never
    comes and time different work."""
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.eml"))):
        raw = open(path, "rb").read()
        if b"\0" in raw or len(raw) > 1_000_000:
            continue
        raw = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            continue
        lines, skipping = [], False
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and skipping:
                continue
            skipping = line.lower().startswith(b"message-id:")
            if not skipping:
                lines.append(line)
        out.append(b"\r\n".join(lines) + sep + body)
    if not out:
        sys.exit(f"bench: no corpus messages in {CORPUS}")
    return out


def messages(prefix, count, min_size=0):
    """(message-id, bytes) pairs, unique ids; padded with neutral text to `min_size` bytes."""
    sources = corpus()
    for i in range(count):
        mid = f"{prefix}-{i}@test.example"
        raw = f"Message-ID: <{mid}>\r\n".encode() + sources[i % len(sources)]
        if len(raw) < min_size:
            if not raw.endswith(b"\r\n"):
                raw += b"\r\n"
            raw += FILLER * ((min_size - len(raw)) // len(FILLER) + 1)
        yield mid, raw


def login(args, tls=False):
    m = imaplib.IMAP4("localhost", args.port)
    if tls:
        m.starttls(ssl.create_default_context(cafile=args.cafile))
    m.login(args.user, args.password)
    return m


def cmd_seed(args):
    m = login(args)
    m.create(args.folder)
    total = 0
    start = time.time()
    for _, raw in messages(args.prefix, args.count, args.min_size):
        typ, data = m.append(args.folder, None, None, raw)
        if typ != "OK":
            sys.exit(f"bench: APPEND failed: {data}")
        total += len(raw)
    m.logout()
    print(f"seeded {args.count} messages ({total / args.count / 1024:.1f} KB average) "
          f"into {args.folder} in {time.time() - start:.1f} s")


def cmd_reset(args):
    """Deletes every folder but INBOX and the seed folders, empties INBOX, copies the seed into it."""
    m = login(args)
    typ, data = m.list('""', "*")
    names = []
    for line in data or []:
        match = re.match(rb'\((.*?)\) "(.)" (.*)$', line)
        if not match:
            continue
        name = match.group(3).decode().strip('"')
        if name != "INBOX" and not name.startswith("Seed"):
            names.append(name)
    for name in sorted(names, key=lambda n: -n.count("/")):
        m.delete(f'"{name}"')
    m.select("INBOX")
    m.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
    m.expunge()
    m.select(args.seed, readonly=True)
    typ, data = m.uid("COPY", "1:*", "INBOX")
    if typ != "OK":
        sys.exit(f"bench: COPY {args.seed} failed: {data}")
    m.select("INBOX", readonly=True)
    typ, data = m.uid("SEARCH", None, "ALL")
    print(f"INBOX holds {len(data[0].split())} messages")
    m.logout()


def cmd_floor(args):
    """The server's floor: a plain client's UID FETCH BODY.PEEK[] and UID MOVE of the same messages per
    5,000 UIDs (the group triaged applies verdicts in), over STARTTLS."""
    start = time.time()
    m = login(args, tls=True)
    m.create("Floor")
    m.select("INBOX")
    typ, data = m.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    for i in range(0, len(uids), FLOOR_GROUP):
        chunk = b",".join(uids[i:i + FLOOR_GROUP]).decode()
        typ, data = m.uid("FETCH", chunk, "(BODY.PEEK[])")
        if typ != "OK":
            sys.exit(f"bench: FETCH failed: {data}")
        typ, data = m.uid("MOVE", chunk, "Floor")
        if typ != "OK":
            sys.exit(f"bench: MOVE failed: {data}")
    m.logout()
    elapsed = time.time() - start
    print(f"floor {len(uids)} {elapsed:.3f}")


def deliver(args, raw):
    with smtplib.LMTP("127.0.0.1", args.lmtp) as lmtp:
        lmtp.sendmail("bench-sender@test.example", [f"{args.user}@test.example"], raw)
    return time.time()


def deliver_each(port, rcpts, raw):
    """One LMTP transaction to several recipients; returns when every one is saved. LMTP answers DATA
    once per recipient (RFC 2033), which smtplib's sendmail does not read."""
    with smtplib.LMTP("127.0.0.1", port) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        lmtp.mail("bench-sender@test.example")
        for rcpt in rcpts:
            code, msg = lmtp.rcpt(rcpt)
            if code != 250:
                sys.exit(f"bench: LMTP RCPT {rcpt}: {code} {msg}")
        replies = [lmtp.data(raw)] + [lmtp.getreply() for _ in rcpts[1:]]
        for code, msg in replies:
            if code != 250:
                sys.exit(f"bench: LMTP DATA: {code} {msg}")
        return time.time()


def percentiles(name, samples_ms):
    samples_ms.sort()
    p50 = statistics.median(samples_ms)
    p99 = samples_ms[min(len(samples_ms) - 1, int(len(samples_ms) * 0.99))]
    print(f"{name} {len(samples_ms)} {p50:.1f} {p99:.1f}")


def cmd_latency_triaged(args):
    """Delivers messages one at a time while `triaged run` idles; reads when each was moved."""
    db = sqlite3.connect(args.db, timeout=10)

    def applied(mid):
        row = db.execute("SELECT applied_ms FROM verdicts WHERE message_id = ? AND state = 'applied'",
                         (mid,)).fetchone()
        return row[0] if row else None

    samples = []
    for i, (mid, raw) in enumerate(messages(args.prefix, args.count + 1)):
        delivered = deliver(args, raw)
        deadline = time.time() + 30
        while (at := applied(mid)) is None:
            if time.time() > deadline:
                sys.exit(f"bench: {mid} not moved within 30 s")
            time.sleep(0.005)
        if i > 0:  # the first one also waits for the first IDLE
            samples.append(at - delivered * 1000)
        time.sleep(0.05)
    percentiles("triaged", samples)


class IdleClient:
    """A bare IMAP client (plain TCP, as Dovecot's own delay needs no TLS) sitting in IDLE on INBOX."""

    def __init__(self, port, user, password):
        # Dovecot answers within a second or two; a lost notification must fail the run, not hang it.
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.until(lambda l: l.startswith(b"* OK"))
        self.send(f"a LOGIN {user} {password}")
        self.until(lambda l: l.startswith(b"a "))
        self.send("b SELECT INBOX")
        self.until(lambda l: l.startswith(b"b "))

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def until(self, pred):
        while True:
            try:
                line = self.f.readline()
            except TimeoutError:
                sys.exit("bench: nothing from the IMAP server for 30 s")
            if not line:
                sys.exit("bench: IMAP connection closed")
            if pred(line):
                return line

    def idle(self):
        self.n += 1
        self.send(f"i{self.n} IDLE")
        self.until(lambda l: l.startswith(b"+"))

    def exists(self):
        """Waits for `* N EXISTS` (skipping the EXPUNGE and FETCH a worker's move causes); its time."""
        self.until(lambda l: l.endswith(b"EXISTS\r\n"))
        return time.time()

    def done(self):
        self.send("DONE")
        self.until(lambda l: l.startswith(f"i{self.n} ".encode()))

    def logout(self):
        self.send("z LOGOUT")
        self.sock.close()


def cmd_latency_idle(args):
    """A bare IDLE client: delivery → `* N EXISTS`."""
    client = IdleClient(args.port, args.user, args.password)
    samples = []
    for _, raw in messages(args.prefix, args.count):
        client.idle()
        delivered = deliver(args, raw)
        samples.append((client.exists() - delivered) * 1000)
        client.done()
        time.sleep(0.05)
    client.logout()
    percentiles("idle", samples)


def cmd_latency_mailboxes(args):
    """Many mailboxes at once: `triaged run` watches the INBOX of each user in `--users`, and a bare
    IDLE client sits on the INBOX of each user in `--bare-users`, as many. Each message goes over one
    LMTP session to a pair drawn at random (fixed seed), the i-th user of each list, the pair's order
    alternating; one delivery gives both samples, delivery → the verdict applied in triaged's SQLite
    store and delivery → the bare client's EXISTS, under the same server load. The bare clients need
    users of their own: on triaged's own INBOX, Dovecot holds its IDLE notification back about as long
    as triaged takes to move the message, and a bare session that syncs after the move sees no EXISTS."""
    users = [u for u in open(args.users).read().split() if u]
    bare = [u for u in open(args.bare_users).read().split() if u]
    if len(users) != len(bare):
        sys.exit("bench: --users and --bare-users must list as many users")
    clients = [IdleClient(args.port, user, args.password) for user in bare]
    for client in clients:
        client.idle()
    db = sqlite3.connect(args.db, timeout=10)
    pick = random.Random(1)
    triaged, idle = [], []
    for i, (mid, raw) in enumerate(messages(args.prefix, args.count)):
        k = pick.randrange(len(users))
        pair = [f"{users[k]}@test.example", f"{bare[k]}@test.example"]
        delivered = deliver_each(args.lmtp, pair[::-1] if i % 2 else pair, raw)
        idle.append((clients[k].exists() - delivered) * 1000)
        deadline = time.time() + 30
        while (row := db.execute("SELECT applied_ms FROM verdicts WHERE message_id = ? AND state = ?",
                                 (mid, "applied")).fetchone()) is None:
            if time.time() > deadline:
                sys.exit(f"bench: {mid} (to {users[k]}) not moved within 30 s")
            time.sleep(0.005)
        triaged.append(row[0] - delivered * 1000)
        clients[k].done()
        clients[k].idle()
        time.sleep(0.05)
    for client in clients:
        client.done()
        client.logout()
    percentiles("triaged", triaged)
    percentiles("idle", idle)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command")
    p.add_argument("--user")
    p.add_argument("--users", help="a file of user names, one a line (latency-mailboxes)")
    p.add_argument("--bare-users", help="as many users for the bare IDLE clients (latency-mailboxes)")
    p.add_argument("--password", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lmtp", type=int)
    p.add_argument("--cafile")
    p.add_argument("--folder", default="Seed")
    p.add_argument("--seed", default="Seed")
    p.add_argument("--prefix", default="bench")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--min-size", type=int, default=0)
    p.add_argument("--db")
    args = p.parse_args()
    if args.user is None and args.command != "latency-mailboxes":
        p.error("--user is required")
    {
        "seed": cmd_seed,
        "reset": cmd_reset,
        "floor": cmd_floor,
        "latency-triaged": cmd_latency_triaged,
        "latency-idle": cmd_latency_idle,
        "latency-mailboxes": cmd_latency_mailboxes,
    }[args.command](args)


if __name__ == "__main__":
    main()
