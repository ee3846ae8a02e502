-- Black-box probes created with POST /api/v1/probes (server/probes). One JSON document per probe
-- name; the newest version wins, and deleted = 1 removes it. Probes derived from a registered
-- service's `health` link are not stored: they follow the service's registration.
CREATE TABLE IF NOT EXISTS probes
(
    name String,
    doc String,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, deleted)
ORDER BY name;
