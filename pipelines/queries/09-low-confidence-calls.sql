-- Question: which calls did whisper transcribe with the least confidence
-- (worth a listen before trusting the text, metrics or rule hits)?
--
-- Reading the result: the 25 calls with the lowest mean avg_logprob (the mean
-- over the call's segments of whisper's mean token log-probability: closer to
-- 0 is more confident; below about -0.8 the text is often wrong). Also shown:
-- how many segments are below -1.0, the call's warnings (truncated file, bad
-- date in a name, ...; the list is in the transcript JSON), the model and
-- pipeline it was made with, and words per minute of talk: very few words
-- over a lot of talk time hints at speech whisper dropped.
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/09-low-confidence-calls.sql)"
WITH low AS (
    SELECT call_id,
           count(*) FILTER (WHERE avg_logprob < -1.0) AS weak_segments,
           min(avg_logprob)                           AS worst_segment_logprob
    FROM read_parquet('parquet/segments/**/*.parquet', hive_partitioning = true)
    GROUP BY call_id
)
SELECT
    round(c.mean_avg_logprob, 3)                                      AS mean_avg_logprob,
    round(l.worst_segment_logprob, 3)                                 AS worst_segment,
    l.weak_segments,
    c.segments,
    c.warnings,
    round(c.words * 60000.0 / nullif(c.talk_ms, 0), 1)                AS words_per_talk_minute,
    c.languages,
    c.model,
    c.pipeline,
    c.call_id,
    c.source_path
FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true) c
JOIN low l USING (call_id)
WHERE c.mean_avg_logprob IS NOT NULL
ORDER BY c.mean_avg_logprob, c.call_id
LIMIT 25;
