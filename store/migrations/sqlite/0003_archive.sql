-- xgate schema v3 (SQLite): the per-user message archive (IRC bouncer history,
-- XEP-0313 MAM). One row per message per user who has a copy of it.
--
--   seq           orders the archive (insertion order); AUTOINCREMENT so that a
--                 seq is never reused after deletions (RSM ids stay meaningful)
--   stanza_id     the XEP-0359 stanza-id shown to XMPP, unique per (transport, user)
--   conversation  bare JID of the room or contact
--   with_jid      JID of the sender or peer
--   sent          unix milliseconds
--
-- Queries select one (transport, user_jid, conversation), optionally one
-- with_jid, and page by seq: archive_conversation and archive_with serve them
-- (an SQLite index ends with the rowid, here seq; sent is appended so that time
-- bounds and counts are answered from the index alone). archive_sent makes
-- pruning by age cheap.
CREATE TABLE archive (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    transport    TEXT    NOT NULL,
    user_jid     TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    stanza_id    TEXT    NOT NULL,
    with_jid     TEXT    NOT NULL DEFAULT '',
    sent         INTEGER NOT NULL,
    payload      BLOB
);
CREATE UNIQUE INDEX archive_id ON archive (transport, user_jid, stanza_id);
CREATE INDEX archive_conversation ON archive (transport, user_jid, conversation, seq, sent);
CREATE INDEX archive_with ON archive (transport, user_jid, conversation, with_jid, seq, sent);
CREATE INDEX archive_sent ON archive (sent);
