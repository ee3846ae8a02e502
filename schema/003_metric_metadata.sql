-- Metric metadata (type, help, unit) as clients send it: Prometheus remote write's metadata and
-- OTLP's description/unit/type. One row per metric after merges; the newest report wins.
-- Read by /api/v1/metadata. Written only when a metric's metadata changes (server/series/metadata.ts).
CREATE TABLE IF NOT EXISTS metric_metadata
(
    metric String,
    type String,
    help String,
    unit String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY metric;

-- Where a series ended: Prometheus staleness markers (remote write) and OTLP "no recorded value"
-- points. The marker itself is not stored in points (a NaN there would poison every aggregation);
-- a reader that wants Prometheus' exact end of a series hides samples at or before a mark once
-- the mark's time is reached (until a newer sample). TTL follows RETENTION_DAYS, set at start-up.
CREATE TABLE IF NOT EXISTS series_ends
(
    series_id UInt64,
    ts DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (series_id, ts);
