-- Rollups move off the insert path (issue 11). The views of 002/006 pushed every inserted block
-- into rollup_1m, including blocks a client re-sent: the rollups counted re-sent samples as many
-- times as they were sent, for ever. Now a background job (server/rollups/job.ts) aggregates each
-- closed hour from deduplicated raw points (points FINAL) and records it in rollup_windows; the
-- query engine reads a rollup bucket only when its hour is recorded there and not marked dirty
-- since, and raw points elsewhere (server/rollups/sql.ts).
DROP VIEW IF EXISTS rollup_1m_mv;

DROP VIEW IF EXISTS rollup_1h_mv;

-- gen names the job run that wrote a row: a recomputed hour gets a new gen and readers take the
-- gen recorded in rollup_windows, so a run that died half-way leaves rows no reader takes, and
-- rows of different runs never merge into one. Rows the views wrote have gen 0.
ALTER TABLE rollup_1m ADD COLUMN gen UInt64, MODIFY ORDER BY (series_id, ts, gen);

ALTER TABLE rollup_1h ADD COLUMN gen UInt64, MODIFY ORDER BY (series_id, ts, gen);

-- Hours whose rollups are complete: w is the hour's end in hours since the epoch, (w - 1 h, w h],
-- the same naming as buckets. The newest version per w wins; gen is the run whose rows to read.
CREATE TABLE IF NOT EXISTS rollup_windows
(
    w UInt32,
    gen UInt64,
    version UInt64,
    done_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY w;

-- Hours written to after they closed (late samples, backfills, re-sent bodies): written by the
-- writer before the points. An hour whose newest mark is newer than its newest version is read
-- from raw points until the job recomputes it.
CREATE TABLE IF NOT EXISTS rollup_dirty
(
    w UInt32,
    at UInt64
)
ENGINE = ReplacingMergeTree(at)
ORDER BY w;

-- The upgrade keeps every hour readable: the closed hours the views filled stay readable at
-- gen 0 (version 0)...
INSERT INTO rollup_windows (w, gen, version)
SELECT w, 0, 0 FROM
(
    SELECT DISTINCT toUInt32(intDiv(toUnixTimestamp64Milli(ts) + 3599999, 3600000)) AS w FROM rollup_1h
    UNION DISTINCT
    SELECT DISTINCT toUInt32(intDiv(toUnixTimestamp64Milli(ts) + 3599999, 3600000)) AS w FROM rollup_1m
)
WHERE toInt64(w) * 3600000 <= toUnixTimestamp64Milli(now64(3));

-- ...and those that still have raw points are marked dirty: read from (deduplicated) raw points
-- until the job has recomputed them without the duplicates the views counted.
INSERT INTO rollup_dirty (w, at)
SELECT DISTINCT toUInt32(intDiv(toUnixTimestamp64Milli(ts) + 3599999, 3600000)) AS w, 1 FROM points
