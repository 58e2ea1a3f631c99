-- Question: which rules fired with high severity, and how often, day by day
-- (do-not-call requests, calls to listed numbers, watchlist phrases)?
--
-- Reading the result: one row per local day and rule, newest day first, hits
-- of the severities in `params` only (edit the list: ['high', 'medium'] for
-- both). hits counts every hit (a phrase said three times in a call is three
-- hits), calls the distinct calls it fired in, agents the distinct agents of
-- those calls; kind is watchlist, dnc_request or dnc_listed; example_call and
-- example_at are the earliest hit of that day and rule, so
-- `callsift show <example_call> --at <example_at>` opens the dialogue there
-- (a dnc_listed hit is about the number, not a moment: 00:00:00). Undated
-- calls are the row with an empty day. Local days in the zone SET below.
-- Only calls the pipeline's rules ran on have hits: when nothing ever fired
-- there are no parts and DuckDB says "No files found".
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/12-hits-per-rule-day.sql)"
SET TimeZone = 'Europe/Warsaw';

WITH params AS (
    SELECT ['high'] AS severities   -- <-- edit me: 'low', 'medium', 'high'
),
hits AS (
    SELECT h.*, h.call_start::DATE AS local_day
    FROM read_parquet('parquet/hits/**/*.parquet', hive_partitioning = true) h, params p
    WHERE list_contains(p.severities, h.severity)
)
SELECT
    local_day,
    rule,
    string_agg(DISTINCT kind, ',' ORDER BY kind)                    AS kind,
    count(*)                                                        AS hits,
    count(DISTINCT call_id)                                         AS calls,
    count(DISTINCT agent_id)                                        AS agents,
    arg_min(call_id, (call_start, start_ms, call_id))               AS example_call,
    arg_min(printf('%02d:%02d:%02d', start_ms // 3600000, (start_ms // 60000) % 60,
                   (start_ms // 1000) % 60), (call_start, start_ms, call_id))
                                                                    AS example_at
FROM hits
GROUP BY local_day, rule
ORDER BY local_day DESC NULLS LAST, hits DESC, rule;
