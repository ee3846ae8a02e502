-- The dashboard library (/api/v1/dashboards): any dashboard, in folders, with tags. One JSON
-- document per id (server/dashboards/model.ts); the newest version wins and deleted = 1 removes
-- it. Dashboards provisioned from DASHBOARDS_DIR are read from their files, never stored here.
-- Numbered 010 so it cannot collide with 007-009 taken on other branches.
CREATE TABLE IF NOT EXISTS dashboard_library
(
    id String,
    folder String,
    title String,
    tags Array(String),
    doc String,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, deleted)
ORDER BY id;

-- Annotations posted by hand or by CI (POST /api/v1/annotations): a time (or span), a text and
-- tags; service or dashboard scope them. Alert state changes and deploys are derived when read.
CREATE TABLE IF NOT EXISTS annotations
(
    id String,
    ts DateTime64(3, 'UTC'),
    end_ts Nullable(DateTime64(3, 'UTC')),
    text String,
    tags Array(String),
    service String DEFAULT '',
    dashboard String DEFAULT '',
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id);
