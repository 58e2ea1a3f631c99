-- Question: what is in the tables: how many calls and segments per date
-- partition, made how, under which schema version, and does every call
-- appear exactly once?
--
-- Reading the result: one row per `date=` partition (the UTC date of
-- call_start; NULL is `date=__HIVE_DEFAULT_PARTITION__`, calls without a
-- start). segment_rows should equal segments_per_calls (the calls' own
-- `segments` counts); duplicate_calls should be 0 (a call is replaced when it
-- is processed or imported again, never added twice). from_segments counts
-- calls whose talk metrics came from segment times (imported transcripts),
-- not from voice activity detection. Expect one schema_version (1 now).
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/10-partitions.sql)"
WITH calls AS (
    SELECT * FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
),
segs AS (
    SELECT date, count(*) AS segment_rows
    FROM read_parquet('parquet/segments/**/*.parquet', hive_partitioning = true)
    GROUP BY date
)
SELECT
    c.date,
    count(*)                                                     AS calls,
    count(*) - count(DISTINCT c.call_id)                         AS duplicate_calls,
    sum(c.segments)                                              AS segments_per_calls,
    any_value(coalesce(s.segment_rows, 0))                       AS segment_rows,
    count(*) FILTER (WHERE c.metrics_source = 'segments')        AS from_segments,
    count(*) FILTER (WHERE c.channels = 1)                       AS mono_calls,
    string_agg(DISTINCT c.schema_version::VARCHAR, ',')          AS schema_versions,
    round(sum(c.duration_ms) / 3600000.0, 2)                     AS audio_hours
FROM calls c
LEFT JOIN segs s ON s.date IS NOT DISTINCT FROM c.date
GROUP BY c.date
ORDER BY c.date NULLS LAST;
