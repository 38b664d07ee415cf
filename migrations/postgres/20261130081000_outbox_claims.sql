-- Several workers flushing one outbox.
--
-- Each delivery attempt claims its recipient for the worker making it (workers.id); '' when unclaimed.
-- A claim holds while its worker is live (not stopped, heartbeat_ms + ttl_ms ahead of the database's
-- clock); a dead worker's claim returns the recipient to the queue. Recording the outcome clears it.
ALTER TABLE outbox_recipients ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';

-- RFC 3834 "one automatic reply per sender per period", enforced by the key: a reply takes the
-- sender's row (insert, or update when its last reply is older than the period) inside the
-- transaction that queues it, so of two concurrent replies to one sender one finds the row taken.
-- auto_replies stays the history (and which ticket each reply carried).
CREATE TABLE auto_reply_senders (
    sender      TEXT    PRIMARY KEY,
    last_at_ms  BIGINT  NOT NULL
);
INSERT INTO auto_reply_senders (sender, last_at_ms)
    SELECT sender, MAX(at_ms) FROM auto_replies GROUP BY sender;
