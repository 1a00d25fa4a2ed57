-- xgate schema v4 (SQLite): the archive of v3 split so that a line costs less
-- to store. With shared IRC rooms one line becomes one row per xgate user, and
-- v3 repeated transport, user and conversation (long TEXT) in the row and in
-- four indexes, whose pages a batch dirtied by the hundred.
--
--   archive_users        one row per (transport, user_jid): a small id
--   archive_convs        one row per (user, conversation): a small id, and
--                        entries, the number of its lines (RSM <count/> of a
--                        query without filters, kept by triggers)
--   archive_with_counts  lines per (conversation, with_jid), for the count of
--                        a `with` query without time bounds (triggers)
--   archive_lines        the lines; seq as in v3 (AUTOINCREMENT: never reused)
--
-- archive_lines_conv (conv_id, seq, sent, with_key) serves every query: pages
-- by seq and time bounds are read from the index alone; a `with` filter reads
-- only the lines whose with_key matches.
-- archive_lines_id enforces stanza_id unique per (transport, user) and finds
-- RSM anchors and a user's lines; archive_lines_sent makes pruning cheap.
-- The view archive keeps the v3 columns (reads, and inserts through a
-- trigger) for operators' ad-hoc SQL; xgate itself uses the tables.
-- There are no foreign keys (a check per line would cost an index probe): the
-- store removes a conversation or a user only once it has no lines.
CREATE TABLE archive_users (
    id        INTEGER PRIMARY KEY,
    transport TEXT NOT NULL,
    user_jid  TEXT NOT NULL,
    UNIQUE (transport, user_jid)
);
CREATE TABLE archive_convs (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    conversation TEXT    NOT NULL,
    entries      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, conversation)
);
CREATE TABLE archive_with_counts (
    conv_id  INTEGER NOT NULL,
    with_jid TEXT    NOT NULL,
    entries  INTEGER NOT NULL,
    PRIMARY KEY (conv_id, with_jid)
) WITHOUT ROWID;
CREATE TABLE archive_lines (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL,
    conv_id   INTEGER NOT NULL,
    stanza_id TEXT    NOT NULL,
    with_jid  TEXT    NOT NULL DEFAULT '',
    sent      INTEGER NOT NULL,
    payload   BLOB,
    -- A cheap digest of with_jid (its length and last three characters: the
    -- end of a nick), so that archive_lines_conv can skip other senders'
    -- lines without holding with_jid itself (which made the index three
    -- times larger and appends 40% slower). Queries repeat the expression.
    with_key  INTEGER GENERATED ALWAYS AS (length(with_jid) * 16777216
        + coalesce(unicode(substr(with_jid, -1, 1)), 0) * 65536
        + coalesce(unicode(substr(with_jid, -2, 1)), 0) * 256
        + coalesce(unicode(substr(with_jid, -3, 1)), 0)) VIRTUAL
);

-- Existing lines, with their seqs. The groups follow v3's indexes, so that
-- no statement sorts the whole archive in a temporary B-tree (temp_store is
-- MEMORY).
INSERT INTO archive_users (transport, user_jid)
SELECT DISTINCT transport, user_jid FROM archive ORDER BY transport, user_jid;
INSERT INTO archive_convs (user_id, conversation, entries)
SELECT u.id, a.conversation, count(*)
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
GROUP BY a.transport, a.user_jid, a.conversation;
INSERT INTO archive_with_counts (conv_id, with_jid, entries)
SELECT c.id, a.with_jid, count(*)
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
JOIN archive_convs c ON c.user_id = u.id AND c.conversation = a.conversation
GROUP BY a.transport, a.user_jid, a.conversation, a.with_jid;
INSERT INTO archive_lines (seq, user_id, conv_id, stanza_id, with_jid, sent, payload)
SELECT a.seq, u.id, c.id, a.stanza_id, a.with_jid, a.sent, a.payload
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
JOIN archive_convs c ON c.user_id = u.id AND c.conversation = a.conversation
ORDER BY a.seq;
-- The sequence goes on from v3's (which may be past the last line left).
DELETE FROM sqlite_sequence WHERE name = 'archive_lines';
UPDATE sqlite_sequence SET name = 'archive_lines' WHERE name = 'archive';
DROP TABLE archive;

CREATE UNIQUE INDEX archive_lines_id ON archive_lines (user_id, stanza_id);
CREATE INDEX archive_lines_conv ON archive_lines (conv_id, seq, sent, with_key);
CREATE INDEX archive_lines_sent ON archive_lines (sent);

CREATE TRIGGER archive_lines_counted AFTER INSERT ON archive_lines BEGIN
    UPDATE archive_convs SET entries = entries + 1 WHERE id = NEW.conv_id;
    INSERT INTO archive_with_counts (conv_id, with_jid, entries) VALUES (NEW.conv_id, NEW.with_jid, 1)
        ON CONFLICT (conv_id, with_jid) DO UPDATE SET entries = entries + 1;
END;
CREATE TRIGGER archive_lines_uncounted AFTER DELETE ON archive_lines BEGIN
    UPDATE archive_convs SET entries = entries - 1 WHERE id = OLD.conv_id;
    UPDATE archive_with_counts SET entries = entries - 1 WHERE conv_id = OLD.conv_id AND with_jid = OLD.with_jid;
    DELETE FROM archive_with_counts WHERE conv_id = OLD.conv_id AND with_jid = OLD.with_jid AND entries <= 0;
END;

CREATE VIEW archive (seq, transport, user_jid, conversation, stanza_id, with_jid, sent, payload) AS
SELECT l.seq, u.transport, u.user_jid, c.conversation, l.stanza_id, l.with_jid, l.sent, l.payload
FROM archive_lines l JOIN archive_convs c ON c.id = l.conv_id JOIN archive_users u ON u.id = c.user_id;
CREATE TRIGGER archive_insert INSTEAD OF INSERT ON archive BEGIN
    INSERT INTO archive_users (transport, user_jid) VALUES (NEW.transport, NEW.user_jid) ON CONFLICT DO NOTHING;
    INSERT INTO archive_convs (user_id, conversation)
    SELECT id, NEW.conversation FROM archive_users WHERE transport = NEW.transport AND user_jid = NEW.user_jid
    ON CONFLICT DO NOTHING;
    INSERT INTO archive_lines (user_id, conv_id, stanza_id, with_jid, sent, payload)
    SELECT c.user_id, c.id, NEW.stanza_id, COALESCE(NEW.with_jid, ''), NEW.sent, NEW.payload
    FROM archive_convs c JOIN archive_users u ON u.id = c.user_id
    WHERE u.transport = NEW.transport AND u.user_jid = NEW.user_jid AND c.conversation = NEW.conversation
    ON CONFLICT DO NOTHING;
END;
