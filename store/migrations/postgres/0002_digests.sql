-- xgate schema v2 (PostgreSQL): per-conversation digest buffers, opaque routing
-- tokens, and small per-transport state (the email transport's IMAP cursor).

-- digest_entries buffers messages per (transport, user, peer) until a digest
-- is sealed: SealDigest deletes the entries and enqueues the digest in the
-- outbox in one transaction. dedup (when not empty) makes appending idempotent.
CREATE TABLE digest_entries (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transport TEXT    NOT NULL,
    user_jid  TEXT    NOT NULL,
    peer      TEXT    NOT NULL,
    dedup     TEXT    NOT NULL DEFAULT '',
    payload   BYTEA,
    created   BIGINT  NOT NULL
);
CREATE INDEX digest_entries_group ON digest_entries (transport, user_jid, peer, id);
CREATE UNIQUE INDEX digest_entries_dedup ON digest_entries (transport, dedup) WHERE dedup <> '';

-- routes pairs a user with an opaque token (the email transport's routing
-- address localpart), unique both ways per transport.
CREATE TABLE routes (
    transport TEXT    NOT NULL,
    user_jid  TEXT    NOT NULL,
    token     TEXT    NOT NULL,
    created   BIGINT  NOT NULL,
    PRIMARY KEY (transport, user_jid)
);
CREATE UNIQUE INDEX routes_token ON routes (transport, token);

CREATE TABLE transport_state (
    transport TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    updated   BIGINT  NOT NULL,
    PRIMARY KEY (transport, name)
);
