-- The rollup views of 002, rewritten for insert cost (same tables, same results). Measured on
-- 200k-point inserts (chdb, 2 cores): points alone 3.0 M/s; with 002's views 0.66 M/s. Tuple
-- min/max per sample was the largest cost (0.9 M/s alone), argMin/argMax build the same
-- (time, value) tuples at 2.2 M/s; bucket ends from integer arithmetic beat
-- toStartOfMinute(ts - 1 ms) + 1 minute. The table columns keep their merge functions.
DROP VIEW IF EXISTS rollup_1m_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_1m_mv TO rollup_1m AS
SELECT
    series_id,
    bucket AS ts,
    count() AS cnt,
    sum(value) AS sum,
    min(value) AS min,
    max(value) AS max,
    (min(t), argMin(value, t)) AS first,
    (max(t), argMax(value, t)) AS last,
    deltaSumTimestampState(-value, toUnixTimestamp64Milli(t)) AS drops
FROM
(
    SELECT series_id, ts AS t, value,
        fromUnixTimestamp64Milli(intDiv(toUnixTimestamp64Milli(ts) + 59999, 60000) * 60000, 'UTC') AS bucket
    FROM points
)
GROUP BY series_id, bucket;

DROP VIEW IF EXISTS rollup_1h_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_1h_mv TO rollup_1h AS
SELECT
    series_id,
    hour AS ts,
    sum(cnt) AS cnt,
    sum(s) AS sum,
    min(mn) AS min,
    max(mx) AS max,
    (min(f.1), argMin(f.2, f.1)) AS first,
    (max(l.1), argMax(l.2, l.1)) AS last,
    deltaSumTimestampMergeState(d) AS drops
FROM
(
    SELECT series_id, cnt, sum AS s, min AS mn, max AS mx, first AS f, last AS l, drops AS d,
        fromUnixTimestamp64Milli(intDiv(toUnixTimestamp64Milli(ts) + 3599999, 3600000) * 3600000, 'UTC') AS hour
    FROM rollup_1m
)
GROUP BY series_id, hour;
