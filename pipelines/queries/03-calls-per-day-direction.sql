-- Question: how many calls were made each day, inbound, outbound and
-- internal?
--
-- Reading the result: one row per local day (newest first), a column of
-- calls per direction (`unknown`: no direction in the file name, sidecar or
-- CDR, or a word other than these three), all calls, and the hours of audio
-- that day. Days are local to the
-- zone SET below; the `date` partition column is the UTC date instead (use
-- `date` in place of call_start::DATE for UTC days; it also lets DuckDB skip
-- whole partitions in a WHERE). Calls without a known start are the row
-- with an empty day.
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/03-calls-per-day-direction.sql)"
SET TimeZone = 'Europe/Warsaw';

SELECT
    call_start::DATE                                        AS local_day,
    count(*) FILTER (WHERE direction = 'inbound')           AS inbound,
    count(*) FILTER (WHERE direction = 'outbound')          AS outbound,
    count(*) FILTER (WHERE direction = 'internal')          AS internal,
    count(*) FILTER (WHERE direction IS NULL
                        OR direction NOT IN ('inbound', 'outbound', 'internal'))
                                                            AS unknown,
    count(*)                                                AS calls,
    round(sum(duration_ms) / 3600000.0, 2)                  AS audio_hours
FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
GROUP BY local_day
ORDER BY local_day DESC NULLS LAST;
