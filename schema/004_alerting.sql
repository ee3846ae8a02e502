-- Alerting (server/alerting/). Small tables; every mutable object is a versioned row in a
-- ReplacingMergeTree and is read newest-version-first (LIMIT 1 BY / argMax), never with FINAL,
-- so a read is correct before merges happen.

-- Objects managed through the API: alerting/recording rules (kind 'rule'), SLOs ('slo'), the
-- notification config ('notify_config'). body is the validated JSON document.
CREATE TABLE IF NOT EXISTS alerting_objects
(
    kind LowCardinality(String),
    id String,
    version UInt64,
    deleted UInt8,
    body String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, id);

-- The alerts of alerting rules (what Prometheus keeps in memory), written when they change and
-- at shutdown, so a restart restores `for` and does not announce firing alerts again.
-- evaluated_at is the last evaluation that saw the alert (the "down at" of `for` restoration).
-- value is NULL for NaN (synthetic no-data/error alerts).
CREATE TABLE IF NOT EXISTS alert_state
(
    rule_id String,
    fingerprint String,
    version UInt64,
    deleted UInt8,
    group_key String,
    labels Map(String, String),
    annotations Map(String, String),
    state LowCardinality(String),
    reason LowCardinality(String),
    value Nullable(Float64),
    active_at DateTime64(3, 'UTC'),
    fired_at DateTime64(3, 'UTC'),
    resolved_at DateTime64(3, 'UTC'),
    keep_firing_since DateTime64(3, 'UTC'),
    evaluated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (rule_id, fingerprint);

-- Every state transition of every alert, behind GET /api/v1/alerting/history.
-- TTL is set at start-up from ALERT_HISTORY_DAYS.
CREATE TABLE IF NOT EXISTS alert_history
(
    ts DateTime64(3, 'UTC'),
    rule_id String,
    rule_name String,
    group_key String,
    fingerprint String,
    labels Map(String, String),
    annotations Map(String, String),
    from_state LowCardinality(String),
    to_state LowCardinality(String),
    value Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, fingerprint);

-- Silences (Alertmanager's model). matchers is JSON [{name, op, value}].
CREATE TABLE IF NOT EXISTS silences
(
    id String,
    version UInt64,
    matchers String,
    starts_at DateTime64(3, 'UTC'),
    ends_at DateTime64(3, 'UTC'),
    created_by String,
    comment String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- The notification log (Alertmanager's nflog): per receiver integration and alert group, what
-- was last delivered. A flush consults it, so nothing is sent twice across a restart and a
-- resolution is still sent for what was announced as firing.
CREATE TABLE IF NOT EXISTS notification_log
(
    receiver String,
    group_key String,
    version UInt64,
    firing Array(String),
    resolved Array(String),
    sent_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (receiver, group_key);
