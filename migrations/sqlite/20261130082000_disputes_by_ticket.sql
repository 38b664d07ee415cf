-- A dispute is found through its thread: mail joins a ticket's thread (thread_keys), and the dispute keyed
-- by that ticket is the one it moves on. dispute_messages stays as the record of each dispute's mail for
-- retention's holds; nothing is matched on it any more.
CREATE INDEX disputes_ticket ON disputes (ticket);

-- Disputes recorded before without a ticket take the one of the thread that first took their first
-- message's Message-ID, so their later mail finds them.
UPDATE disputes SET ticket = (
    SELECT k.ticket FROM thread_keys k
    WHERE k.kind = 'message-id' AND k.key = disputes.message_id
    ORDER BY k.id LIMIT 1
)
WHERE ticket = '' AND EXISTS (
    SELECT 1 FROM thread_keys k WHERE k.kind = 'message-id' AND k.key = disputes.message_id
);
