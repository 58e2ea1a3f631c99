-- Question: where was something said? A full-text-ish search over every
-- segment, with the call it belongs to.
--
-- Edit the pattern below: ILIKE is case-insensitive, % is any run of
-- characters, _ any one character ('%nowej karty%', '%komór%', '%пароль%').
-- Both sides are compared with accents stripped, so '%zadzwonie%' also finds
-- "zadzwonię" (but ł and ё are letters of their own: write them). For word
-- forms, fuzzy matches and phrases across segments use `callsift search`.
--
-- Reading the result: one row per matching segment, oldest call first; `at`
-- is the segment's start in the recording (hh:mm:ss), so
-- `callsift show <call_id> --at <at>` opens the dialogue there. Local times
-- in the zone SET below.
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/08-search-segments.sql)"
SET TimeZone = 'Europe/Warsaw';

WITH params AS (
    SELECT '%karty%' AS pattern   -- <-- edit me
)
SELECT
    strftime(c.call_start, '%Y-%m-%d %H:%M')                            AS local_start,
    printf('%02d:%02d:%02d', s.start_ms // 3600000, (s.start_ms // 60000) % 60,
           (s.start_ms // 1000) % 60)                                   AS at,
    s.speaker,
    s.text,
    c.agent_id,
    c.direction,
    s.language,
    s.call_id,
    c.source_path
FROM read_parquet('parquet/segments/**/*.parquet', hive_partitioning = true) s
JOIN read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true) c USING (call_id),
     params p
WHERE strip_accents(s.text) ILIKE strip_accents(p.pattern)
ORDER BY c.call_start NULLS LAST, s.call_id, s.seg_no;
