-- Question: which calls have a speaker talking unusually fast or slow for
-- their side (agents are compared with agents, customers with customers)?
--
-- Reading the result: one row per call and side whose words per minute (over
-- that side's own talk time) is more than 2 standard deviations from the
-- side's mean, or outside the IQR fences [Q1 - 1.5 IQR, Q3 + 1.5 IQR]. `rule`
-- says which test flagged it (both: `z+iqr`); z is the distance from the mean
-- in standard deviations (negative: slower). Very fast rates often mean
-- reading a script aloud; very slow ones, or a low word count, can also be
-- a transcription problem (see 09-low-confidence-calls.sql). Sides with less
-- than `min_talk_s` of talk are not judged (a few words make wild rates).
-- No rows means no outliers. Edit the parameters in the first CTE. Local
-- times in the zone SET below.
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/05-wpm-outliers.sql)"
SET TimeZone = 'Europe/Warsaw';

WITH params AS (
    SELECT 2.0 AS max_z,       -- standard deviations from the mean
           1.5 AS iqr_factor,  -- Tukey's fences
           10  AS min_talk_s   -- ignore sides with less talk than this
),
calls AS (
    SELECT * FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
),
rates AS (
    SELECT call_id, 'agent' AS side, wpm_agent AS wpm, talk_ms_agent AS talk_ms, words_agent AS words FROM calls
    UNION ALL
    SELECT call_id, 'customer', wpm_customer, talk_ms_customer, words_customer FROM calls
),
judged AS (
    SELECT r.* FROM rates r, params p
    WHERE r.wpm IS NOT NULL AND r.talk_ms >= p.min_talk_s * 1000
),
stats AS (
    SELECT side,
           count(*)                        AS n,
           avg(wpm)                        AS mean_wpm,
           stddev_samp(wpm)                AS sd_wpm,
           quantile_cont(wpm, 0.25)        AS q1,
           quantile_cont(wpm, 0.75)        AS q3
    FROM judged
    GROUP BY side
),
flagged AS (
    SELECT j.*, s.n, s.mean_wpm, s.sd_wpm, s.q1, s.q3,
           (j.wpm - s.mean_wpm) / nullif(s.sd_wpm, 0)                          AS z,
           abs(j.wpm - s.mean_wpm) > p.max_z * s.sd_wpm                        AS by_z,
           j.wpm < s.q1 - p.iqr_factor * (s.q3 - s.q1)
               OR j.wpm > s.q3 + p.iqr_factor * (s.q3 - s.q1)                  AS by_iqr
    FROM judged j JOIN stats s USING (side), params p
)
SELECT
    f.side,
    round(f.wpm, 1)                                         AS wpm,
    round(f.z, 2)                                           AS z,
    CASE WHEN f.by_z AND f.by_iqr THEN 'z+iqr'
         WHEN f.by_z THEN 'z' ELSE 'iqr' END                AS rule,
    round(f.mean_wpm, 1)                                    AS side_mean_wpm,
    round(f.q1, 1)                                          AS side_q1,
    round(f.q3, 1)                                          AS side_q3,
    f.n                                                     AS side_calls,
    f.words,
    round(f.talk_ms / 1000.0, 1)                            AS talk_s,
    c.agent_id,
    strftime(c.call_start, '%Y-%m-%d %H:%M')               AS local_start,
    f.call_id
FROM flagged f JOIN calls c USING (call_id)
WHERE coalesce(f.by_z, false) OR coalesce(f.by_iqr, false)
ORDER BY abs(f.z) DESC NULLS LAST, f.side, f.call_id;
