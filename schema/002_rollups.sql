-- Rollups for the query engine (server/promql/plan.ts decides when a query may read them).
-- One row per series and bucket after merges. A bucket is named by its END and holds the
-- samples in (ts - resolution, ts]: PromQL range windows are left-open, (t - range, t], so a
-- window whose ends fall on bucket boundaries is an exact union of buckets.
--
-- first/last keep the earliest/latest sample as a (time, value) tuple (instant-vector selection
-- and the extrapolation of rate/increase/delta need both); min/max of tuples merge in any order
-- and read as plain columns. drops is the sum of decreases between consecutive samples, merged
-- in time order by deltaSumTimestamp over -value: a counter window whose buckets and bucket
-- junctions have no drop had no reset, and then increase = last - first exactly. Windows with a
-- reset are answered from raw points.
-- TTLs come from ROLLUP_1M_DAYS / ROLLUP_1H_DAYS at start-up (server/start.ts).
CREATE TABLE IF NOT EXISTS rollup_1m
(
    series_id UInt64,
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    cnt SimpleAggregateFunction(sum, UInt64),
    sum SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    first SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), Float64)),
    last SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), Float64)),
    drops AggregateFunction(deltaSumTimestamp, Float64, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toStartOfWeek(ts)
ORDER BY (series_id, ts);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_1m_mv TO rollup_1m AS
SELECT
    series_id,
    bucket AS ts,
    count() AS cnt,
    sum(value) AS sum,
    min(value) AS min,
    max(value) AS max,
    min((t, value)) AS first,
    max((t, value)) AS last,
    deltaSumTimestampState(-value, toUnixTimestamp64Milli(t)) AS drops
FROM
(
    SELECT series_id, ts AS t, value,
        toDateTime64(toStartOfMinute(ts - toIntervalMillisecond(1)), 3, 'UTC') + toIntervalMinute(1) AS bucket
    FROM points
)
GROUP BY series_id, bucket;

CREATE TABLE IF NOT EXISTS rollup_1h
(
    series_id UInt64,
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    cnt SimpleAggregateFunction(sum, UInt64),
    sum SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    first SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), Float64)),
    last SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), Float64)),
    drops AggregateFunction(deltaSumTimestamp, Float64, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (series_id, ts);

-- Fed from the 1-minute rows as they are written (one row per series-minute, not per sample).
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_1h_mv TO rollup_1h AS
SELECT
    series_id,
    hour AS ts,
    sum(cnt) AS cnt,
    sum(s) AS sum,
    min(mn) AS min,
    max(mx) AS max,
    min(f) AS first,
    max(l) AS last,
    deltaSumTimestampMergeState(d) AS drops
FROM
(
    SELECT series_id, cnt, sum AS s, min AS mn, max AS mx, first AS f, last AS l, drops AS d,
        toDateTime64(toStartOfHour(ts - toIntervalMillisecond(1)), 3, 'UTC') + toIntervalHour(1) AS hour
    FROM rollup_1m
)
GROUP BY series_id, hour;
