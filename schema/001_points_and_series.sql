-- Raw points: one row per sample. ReplacingMergeTree so a sample re-sent by a client retry
-- (same series, same timestamp) converges to one row after merges; acknowledged flushes are
-- already exactly-once through insert deduplication tokens (non_replicated_deduplication_window).
-- Codecs chosen on the bench data set (docs/ARCHITECTURE.md, "Storage").
-- TTL is set from RETENTION_DAYS at start-up (server/store/migrate.ts), not here.
CREATE TABLE IF NOT EXISTS points
(
    series_id UInt64 CODEC(ZSTD(1)),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    value Float64 CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (series_id, ts)
SETTINGS non_replicated_deduplication_window = 10000;

-- Series metadata: one row per series after merges. key is the metric name (Prometheus __name__);
-- tags and service are functions of series_id: any() keeps the one value they have.
-- Sorted by key first: selectors almost always name the metric.
CREATE TABLE IF NOT EXISTS series
(
    key LowCardinality(String),
    series_id UInt64,
    tags SimpleAggregateFunction(any, Map(String, String)),
    service SimpleAggregateFunction(any, String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (key, series_id);
