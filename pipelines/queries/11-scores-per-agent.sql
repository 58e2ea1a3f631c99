-- Question: how does each agent score on each scorecard, week by week?
--
-- Reading the result: one row per agent, local week (Monday) and scorecard,
-- newest week first. A card's score (0-100: the weighted share of the
-- applicable criteria the call met, 0 when a critical criterion failed) is
-- on each of its criterion rows in `scores`, so it is taken once per call and
-- card before averaging. avg_score, min_score and max_score are over the
-- calls the card applied to (scored_calls); not_applicable counts calls where
-- no criterion of the card applied (score NULL), zeroed_calls those a failed
-- critical criterion set to 0; weakest_criterion is the applicable criterion
-- the agent failed most often that week (ties: first by name). Calls without
-- an agent_id are the `(none)` agent; undated calls the row with an empty
-- week. Local weeks in the zone SET below. Only calls the pipeline's rules
-- ran on have scores: with no scorecards in any call there are no parts and
-- DuckDB says "No files found".
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/11-scores-per-agent.sql)"
SET TimeZone = 'Europe/Warsaw';

WITH scores AS (
    SELECT *, coalesce(agent_id, '(none)') AS agent,
           date_trunc('week', call_start)::DATE AS local_week
    FROM read_parquet('parquet/scores/**/*.parquet', hive_partitioning = true)
),
per_call AS (
    SELECT agent, local_week, scorecard, call_id,
           any_value(score)                                         AS score,
           bool_or(critical AND applicable AND NOT passed)          AS critical_failed
    FROM scores
    GROUP BY agent, local_week, scorecard, call_id
),
failures AS (
    SELECT agent, local_week, scorecard, criterion, count(*) AS failed
    FROM scores
    WHERE applicable AND NOT passed
    GROUP BY ALL
),
weakest AS (
    SELECT agent, local_week, scorecard, criterion AS weakest_criterion, failed AS weakest_failed
    FROM failures
    QUALIFY row_number() OVER (PARTITION BY agent, local_week, scorecard
                               ORDER BY failed DESC, criterion) = 1
)
SELECT
    p.agent                                                         AS agent_id,
    p.local_week,
    p.scorecard,
    count(*)                                                        AS calls,
    count(p.score)                                                  AS scored_calls,
    round(avg(p.score), 1)                                          AS avg_score,
    round(min(p.score), 1)                                          AS min_score,
    round(max(p.score), 1)                                          AS max_score,
    count(*) FILTER (WHERE p.score IS NULL)                         AS not_applicable,
    count(*) FILTER (WHERE p.critical_failed)                       AS zeroed_calls,
    any_value(w.weakest_criterion)                                  AS weakest_criterion,
    coalesce(any_value(w.weakest_failed), 0)                        AS weakest_failed
FROM per_call p
LEFT JOIN weakest w
       ON w.agent = p.agent AND w.scorecard = p.scorecard
      AND w.local_week IS NOT DISTINCT FROM p.local_week
GROUP BY p.agent, p.local_week, p.scorecard
ORDER BY p.local_week DESC NULLS LAST, p.agent, p.scorecard;
