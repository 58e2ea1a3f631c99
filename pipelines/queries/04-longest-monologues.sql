-- Question: which calls have the longest monologues, where one side held the
-- floor without the other getting a word in?
--
-- Reading the result: the 25 longest monologues, one row per call and side
-- (a call can appear twice, once per side). monologue_s is the longest run of
-- that side's speech, joined across its own pauses shorter than 1.5 s
-- ([metrics] monologue_max_pause_ms) during which the other side said nothing
-- (a short "mhm" while it speaks does not end it). share_of_call_pct is that
-- run against the call's length. Open one with `callsift show <call_id>`.
-- Stereo calls only (mono calls have no sides).
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/04-longest-monologues.sql)"
SET TimeZone = 'Europe/Warsaw';

WITH calls AS (
    SELECT * FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
),
sides AS (
    SELECT call_id, 'agent' AS side, longest_monologue_ms_agent AS monologue_ms FROM calls
    UNION ALL
    SELECT call_id, 'customer', longest_monologue_ms_customer FROM calls
)
SELECT
    strftime(c.call_start, '%Y-%m-%d %H:%M')                         AS local_start,
    s.side,
    round(s.monologue_ms / 1000.0, 1)                                AS monologue_s,
    round(100.0 * s.monologue_ms / nullif(c.duration_ms, 0), 1)      AS share_of_call_pct,
    round(c.duration_ms / 1000.0)                                    AS call_s,
    c.agent_id,
    c.direction,
    c.call_id,
    c.source_path
FROM sides s
JOIN calls c USING (call_id)
WHERE s.monologue_ms IS NOT NULL AND s.monologue_ms > 0
ORDER BY s.monologue_ms DESC, c.call_id, s.side
LIMIT 25;
