-- Runs on SQLite and PostgreSQL alike (BIGINT has INTEGER affinity in SQLite).
-- One row per site: the integration's state, its lease (owner, expiry by the database's
-- clock, fence) and, for a fleet, how and when to tick it.
CREATE TABLE IF NOT EXISTS fastcomments_sites (
    site_id        TEXT PRIMARY KEY,
    token          TEXT,
    domain         TEXT NOT NULL DEFAULT '',
    content        TEXT NOT NULL DEFAULT '',
    -- One second to two weeks (Fleet's MIN_FLEET_INTERVAL and MAX_INTERVAL): a row
    -- written by hand cannot make a worker tick in a hot loop or overflow a due time.
    interval_ms    BIGINT NOT NULL DEFAULT 60000
                   CHECK (interval_ms BETWEEN 1000 AND 1209600000),
    next_due_ms    BIGINT NOT NULL DEFAULT 0,
    last_due_ms    BIGINT NOT NULL DEFAULT 0,
    claimed_ms     BIGINT NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT '{}',
    lease_owner    TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    fence          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fastcomments_sites_due ON fastcomments_sites (next_due_ms);

-- SqlSite: a site's comments, in upload order by local_id.
CREATE TABLE IF NOT EXISTS fastcomments_comments (
    site_id           TEXT NOT NULL,
    local_id          BIGINT NOT NULL,
    fc_id             TEXT,
    parent_local_id   BIGINT,
    parent_fc_id      TEXT,
    url_id            TEXT NOT NULL,
    author            TEXT NOT NULL,
    html              TEXT NOT NULL,
    date_ms           BIGINT NOT NULL,
    votes_up          BIGINT NOT NULL DEFAULT 0,
    votes_down        BIGINT NOT NULL DEFAULT 0,
    from_fastcomments BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, local_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS fastcomments_comments_fc_id ON fastcomments_comments (site_id, fc_id);

CREATE TABLE IF NOT EXISTS fastcomments_votes (
    site_id   TEXT NOT NULL,
    vote_id   TEXT NOT NULL,
    local_id  BIGINT NOT NULL,
    direction BIGINT NOT NULL,
    PRIMARY KEY (site_id, vote_id)
);

-- SqlSite's progress markers, written with the effects they cover.
CREATE TABLE IF NOT EXISTS fastcomments_sync (
    site_id       TEXT PRIMARY KEY,
    checkpoint    TEXT,
    upload_cursor TEXT,
    next_local_id BIGINT NOT NULL DEFAULT 1
);

-- Every event SqlSite applied, with the fence it was applied under (an audit trail).
CREATE TABLE IF NOT EXISTS fastcomments_applied (
    site_id  TEXT NOT NULL,
    event_id TEXT NOT NULL,
    fence    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS fastcomments_applied_site ON fastcomments_applied (site_id);

-- Items given up (an event the site can never apply, a comment FastComments refuses).
CREATE TABLE IF NOT EXISTS fastcomments_skipped (
    site_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    item    TEXT NOT NULL,
    reason  TEXT NOT NULL
);
