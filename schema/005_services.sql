-- Services registered explicitly (POST /api/v1/services). One JSON document per name (owner,
-- description, tier, links, SLO); the newest version wins, and deleted = 1 unregisters.
-- Services are also discovered from the `service`/`job` label of series (series.service): those
-- need no row here.
CREATE TABLE IF NOT EXISTS services
(
    name String,
    doc String,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, deleted)
ORDER BY name;

-- Edited copies of generated dashboards (PUT /api/v1/services/<name>/dashboard). A saved copy
-- takes precedence over the generated dashboard until it is reset (deleted = 1).
CREATE TABLE IF NOT EXISTS dashboards
(
    service String,
    doc String,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, deleted)
ORDER BY service;
