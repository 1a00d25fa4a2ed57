-- xgate schema v1 (PostgreSQL). Migrations are append-only: never edit a released
-- file, add the next number. Times are unix milliseconds (BIGINT); 0 means unset.

CREATE TABLE registrations (
    transport TEXT    NOT NULL,
    user_jid  TEXT    NOT NULL,
    remote_id TEXT    NOT NULL DEFAULT '',
    settings  JSONB   NOT NULL DEFAULT '{}', -- object of strings
    created   BIGINT  NOT NULL,
    updated   BIGINT  NOT NULL,
    PRIMARY KEY (transport, user_jid)
);
CREATE UNIQUE INDEX registrations_remote ON registrations (transport, remote_id) WHERE remote_id <> '';

CREATE TABLE contacts (
    transport TEXT    NOT NULL,
    user_jid  TEXT    NOT NULL,
    remote    TEXT    NOT NULL,
    name      TEXT    NOT NULL DEFAULT '',
    created   BIGINT  NOT NULL,
    PRIMARY KEY (transport, user_jid, remote)
);

CREATE TABLE id_map (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transport TEXT    NOT NULL,
    user_jid  TEXT    NOT NULL,
    stanza_id TEXT    NOT NULL,
    remote_id TEXT    NOT NULL,
    peer      TEXT    NOT NULL DEFAULT '',
    payload   BYTEA,
    created   BIGINT  NOT NULL
);
CREATE INDEX id_map_remote ON id_map (transport, remote_id);
CREATE INDEX id_map_stanza ON id_map (transport, user_jid, stanza_id);
CREATE INDEX id_map_created ON id_map (created);

-- outbox and inbox have the same shape. Besides the QueueItem fields:
--   lease_owner, lease_until  who holds the item and until when (0: nobody)
--   ready_at                  when Claim may hand it out: next_attempt, or lease_until while leased
--   head                      TRUE for the oldest unfinished item of (transport, order_key), the
--                             only one Claim considers; kept up to date by Enqueue and Complete
--   done_at                   NULL while unfinished; completion time of a tombstone
CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transport    TEXT    NOT NULL,
    order_key    TEXT    NOT NULL,
    remote_id    TEXT    NOT NULL DEFAULT '',
    payload      BYTEA,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT  NOT NULL DEFAULT 0,
    deadline     BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created      BIGINT  NOT NULL,
    lease_owner  TEXT    NOT NULL DEFAULT '',
    lease_until  BIGINT  NOT NULL DEFAULT 0,
    ready_at     BIGINT  NOT NULL DEFAULT 0,
    head         BOOLEAN NOT NULL DEFAULT FALSE,
    done_at      BIGINT
);
CREATE UNIQUE INDEX outbox_remote ON outbox (transport, remote_id) WHERE remote_id <> '';
CREATE INDEX outbox_key ON outbox (transport, order_key, id) WHERE done_at IS NULL;
CREATE INDEX outbox_ready ON outbox (transport, ready_at, id) WHERE head;
CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;

CREATE TABLE inbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transport    TEXT    NOT NULL,
    order_key    TEXT    NOT NULL,
    remote_id    TEXT    NOT NULL DEFAULT '',
    payload      BYTEA,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT  NOT NULL DEFAULT 0,
    deadline     BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created      BIGINT  NOT NULL,
    lease_owner  TEXT    NOT NULL DEFAULT '',
    lease_until  BIGINT  NOT NULL DEFAULT 0,
    ready_at     BIGINT  NOT NULL DEFAULT 0,
    head         BOOLEAN NOT NULL DEFAULT FALSE,
    done_at      BIGINT
);
CREATE UNIQUE INDEX inbox_remote ON inbox (transport, remote_id) WHERE remote_id <> '';
CREATE INDEX inbox_key ON inbox (transport, order_key, id) WHERE done_at IS NULL;
CREATE INDEX inbox_ready ON inbox (transport, ready_at, id) WHERE head;
CREATE INDEX inbox_done ON inbox (done_at) WHERE done_at IS NOT NULL;
