-- xgate schema v4 (PostgreSQL): the archive of v3 split so that a line costs
-- less to store. With shared IRC rooms one line becomes one row per xgate
-- user, and v3 repeated transport, user and conversation (long TEXT) in the
-- row and in four indexes.
--
--   archive_users        one row per (transport, user_jid): a small id
--   archive_convs        one row per (user, conversation): a small id, and
--                        entries, the number of its lines (RSM <count/> of a
--                        query without filters, kept by triggers)
--   archive_with_counts  lines per (conversation, with_jid), for the count of
--                        a `with` query without time bounds (triggers)
--   archive_lines        the lines; seq goes on from v3's identity
--
-- archive_lines_conv (conv_id, seq) INCLUDE (sent, with_key) serves every
-- query (index-only scans once vacuumed; a `with` filter reads only the lines
-- whose with_key matches). archive_lines_id enforces stanza_id unique per
-- (transport, user) and finds RSM anchors and a user's lines;
-- archive_lines_sent makes pruning cheap. The count triggers are per
-- statement (transition tables): one update per conversation per batch. They
-- lock the counters in id order, so that concurrent appends never deadlock.
-- The view archive keeps the v3 columns (reads, and inserts through a
-- trigger) for operators' ad-hoc SQL; xgate itself uses the tables.
-- There are no foreign keys (a check per line would cost an index probe): the
-- store removes a conversation or a user only once it has no lines.
CREATE TABLE archive_users (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transport TEXT NOT NULL,
    user_jid  TEXT NOT NULL,
    UNIQUE (transport, user_jid)
);
CREATE TABLE archive_convs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    conversation TEXT   NOT NULL,
    entries      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (user_id, conversation)
);
CREATE TABLE archive_with_counts (
    conv_id  BIGINT NOT NULL,
    with_jid TEXT   NOT NULL,
    entries  BIGINT NOT NULL,
    PRIMARY KEY (conv_id, with_jid)
);
CREATE TABLE archive_lines (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id   BIGINT NOT NULL,
    conv_id   BIGINT NOT NULL,
    stanza_id TEXT   NOT NULL,
    with_jid  TEXT   NOT NULL DEFAULT '',
    sent      BIGINT NOT NULL,
    payload   BYTEA,
    -- A cheap digest of with_jid (its length and last three characters: the
    -- end of a nick), so that archive_lines_conv can skip other senders'
    -- lines without holding with_jid itself. Plain string functions, not
    -- hashtext: a stored value must not change with the server's version.
    -- Queries repeat the expression.
    with_key  BIGINT GENERATED ALWAYS AS (length(with_jid)::bigint * 16777216
        + ascii(right(with_jid, 1))::bigint * 65536
        + ascii(left(right(with_jid, 2), 1))::bigint * 256
        + ascii(left(right(with_jid, 3), 1))) STORED
);

-- Existing lines, with their seqs.
INSERT INTO archive_users (transport, user_jid)
SELECT DISTINCT transport, user_jid FROM archive ORDER BY 1, 2;
INSERT INTO archive_convs (user_id, conversation, entries)
SELECT u.id, a.conversation, count(*)
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
GROUP BY u.id, a.conversation ORDER BY 1, 2;
INSERT INTO archive_with_counts (conv_id, with_jid, entries)
SELECT c.id, a.with_jid, count(*)
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
JOIN archive_convs c ON c.user_id = u.id AND c.conversation = a.conversation
GROUP BY c.id, a.with_jid;
INSERT INTO archive_lines (seq, user_id, conv_id, stanza_id, with_jid, sent, payload) OVERRIDING SYSTEM VALUE
SELECT a.seq, u.id, c.id, a.stanza_id, a.with_jid, a.sent, a.payload
FROM archive a JOIN archive_users u ON u.transport = a.transport AND u.user_jid = a.user_jid
JOIN archive_convs c ON c.user_id = u.id AND c.conversation = a.conversation
ORDER BY a.seq;
-- The identity goes on from v3's (which may be past the last line left).
SELECT setval(pg_get_serial_sequence('archive_lines', 'seq'), s.last_value, s.is_called)
FROM (SELECT last_value, is_called FROM archive_seq_seq) AS s;
DROP TABLE archive;

CREATE UNIQUE INDEX archive_lines_id ON archive_lines (user_id, stanza_id);
CREATE INDEX archive_lines_conv ON archive_lines (conv_id, seq) INCLUDE (sent, with_key);
CREATE INDEX archive_lines_sent ON archive_lines (sent);

CREATE FUNCTION archive_lines_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM archive_convs WHERE id IN (SELECT conv_id FROM added) ORDER BY id FOR UPDATE;
    UPDATE archive_convs c SET entries = c.entries + a.n
    FROM (SELECT conv_id, count(*) AS n FROM added GROUP BY conv_id) AS a
    WHERE c.id = a.conv_id;
    INSERT INTO archive_with_counts (conv_id, with_jid, entries)
    SELECT conv_id, with_jid, count(*) FROM added GROUP BY conv_id, with_jid ORDER BY conv_id, with_jid
    ON CONFLICT (conv_id, with_jid) DO UPDATE SET entries = archive_with_counts.entries + EXCLUDED.entries;
    RETURN NULL;
END $$;
CREATE TRIGGER archive_lines_added AFTER INSERT ON archive_lines
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION archive_lines_added();

CREATE FUNCTION archive_lines_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM archive_convs WHERE id IN (SELECT conv_id FROM removed) ORDER BY id FOR UPDATE;
    UPDATE archive_convs c SET entries = c.entries - r.n
    FROM (SELECT conv_id, count(*) AS n FROM removed GROUP BY conv_id) AS r
    WHERE c.id = r.conv_id;
    UPDATE archive_with_counts w SET entries = w.entries - r.n
    FROM (SELECT conv_id, with_jid, count(*) AS n FROM removed GROUP BY conv_id, with_jid) AS r
    WHERE w.conv_id = r.conv_id AND w.with_jid = r.with_jid;
    DELETE FROM archive_with_counts w USING (SELECT DISTINCT conv_id, with_jid FROM removed) AS r
    WHERE w.conv_id = r.conv_id AND w.with_jid = r.with_jid AND w.entries <= 0;
    RETURN NULL;
END $$;
CREATE TRIGGER archive_lines_removed AFTER DELETE ON archive_lines
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION archive_lines_removed();

CREATE VIEW archive AS
SELECT l.seq, u.transport, u.user_jid, c.conversation, l.stanza_id, l.with_jid, l.sent, l.payload
FROM archive_lines l JOIN archive_convs c ON c.id = l.conv_id JOIN archive_users u ON u.id = c.user_id;
CREATE FUNCTION archive_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO archive_users (transport, user_jid) VALUES (NEW.transport, NEW.user_jid) ON CONFLICT DO NOTHING;
    INSERT INTO archive_convs (user_id, conversation)
    SELECT u.id, NEW.conversation FROM archive_users u WHERE u.transport = NEW.transport AND u.user_jid = NEW.user_jid
    ON CONFLICT DO NOTHING;
    INSERT INTO archive_lines (user_id, conv_id, stanza_id, with_jid, sent, payload)
    SELECT c.user_id, c.id, NEW.stanza_id, COALESCE(NEW.with_jid, ''), NEW.sent, NEW.payload
    FROM archive_convs c JOIN archive_users u ON u.id = c.user_id
    WHERE u.transport = NEW.transport AND u.user_jid = NEW.user_jid AND c.conversation = NEW.conversation
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER archive_insert INSTEAD OF INSERT ON archive FOR EACH ROW EXECUTE FUNCTION archive_insert();
