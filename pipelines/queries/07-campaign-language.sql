-- Question: how many calls, and how many hours, does each campaign have in
-- each language?
--
-- Reading the result: one row per campaign and language. `languages` is a
-- list (every language spoken in the call, sorted), so a call in two
-- languages (say a Polish agent and a Russian customer) is counted under
-- both: the rows of one campaign can add up to more than its calls
-- (campaign_calls is the real count). `(none)`: no campaign in the call's
-- metadata, or no language (a call without any speech).
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/07-campaign-language.sql)"
WITH calls AS (
    SELECT call_id, coalesce(campaign, '(none)') AS campaign, duration_ms,
           CASE WHEN len(languages) = 0 THEN ['(none)'] ELSE languages END AS langs
    FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
),
per_language AS (
    SELECT call_id, campaign, duration_ms, UNNEST(langs) AS language FROM calls
)
SELECT
    campaign,
    language,
    count(*)                                                    AS calls,
    round(sum(duration_ms) / 3600000.0, 2)                      AS audio_hours,
    (SELECT count(*) FROM calls c2 WHERE c2.campaign = pl.campaign) AS campaign_calls
FROM per_language pl
GROUP BY campaign, language
ORDER BY campaign, calls DESC, language;
