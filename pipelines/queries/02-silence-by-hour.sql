-- Question: at which hours of the (local) day are calls most silent: long
-- holds, agents searching screens, dead air?
--
-- Reading the result: one row per local hour of the call's start (0-23),
-- calls with a known call_start only. silence_pct is the share of call time
-- in which nobody speaks (silence_ms / duration_ms summed over the hour's
-- calls); mean_silence_s and median_silence_s are per call; longest_silence_s
-- is the call with the most silence in that hour (total, not one gap).
--
-- Time zone: call_start is stored in UTC. The SET below makes hour() and
-- dates use your local zone; change it to yours (e.g. 'Asia/Jerusalem',
-- 'Europe/Moscow', 'UTC'). Without SET, DuckDB uses the machine's zone.
-- Alternatively, per expression: hour(call_start AT TIME ZONE 'Europe/Warsaw')
-- (AT TIME ZONE turns the UTC instant into that zone's wall-clock time).
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/02-silence-by-hour.sql)"
SET TimeZone = 'Europe/Warsaw';

SELECT
    hour(call_start)                                                  AS local_hour,
    count(*)                                                          AS calls,
    round(100.0 * sum(silence_ms) / nullif(sum(duration_ms), 0), 1)   AS silence_pct,
    round(avg(silence_ms) / 1000.0, 1)                                AS mean_silence_s,
    round(median(silence_ms) / 1000.0, 1)                             AS median_silence_s,
    round(max(silence_ms) / 1000.0, 1)                                AS longest_silence_s,
    round(sum(duration_ms) / 60000.0, 1)                              AS call_minutes
FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
WHERE call_start IS NOT NULL
GROUP BY local_hour
ORDER BY local_hour;
