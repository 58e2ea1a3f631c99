-- Question: which agents' customers barely speak? A customer who gets little
-- of the conversation is often one who is being talked at, not listened to.
--
-- Reading the result: one row per agent with at least one "quiet" call: a
-- stereo call in which the customer had less than `quiet_share` (30 %) of the
-- agent + customer talk time. quiet_calls_pct is how many of the agent's
-- calls were quiet; customer_share is the customers' share of talk over all
-- the agent's calls; customer_words_per_call the mean words customers said.
-- Agents with the largest share of quiet calls first. Edit the parameters in
-- the first CTE (min_calls: leave out agents with fewer calls).
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/06-quiet-customers.sql)"
WITH params AS (
    SELECT 0.30 AS quiet_share,  -- customer's share of talk below this = quiet call
           1    AS min_calls     -- agents with fewer stereo calls are left out
),
calls AS (
    SELECT c.*, 1 - c.talk_ratio_agent AS customer_share
    FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true) c
    WHERE c.agent_id IS NOT NULL AND c.talk_ratio_agent IS NOT NULL
)
SELECT
    agent_id,
    count(*)                                                           AS calls,
    count(*) FILTER (WHERE customer_share < p.quiet_share)             AS quiet_calls,
    round(100.0 * count(*) FILTER (WHERE customer_share < p.quiet_share) / count(*), 1)
                                                                       AS quiet_calls_pct,
    round(sum(talk_ms_customer) / nullif(sum(talk_ms_agent + talk_ms_customer), 0), 3)
                                                                       AS customer_share,
    round(min(customer_share), 3)                                      AS lowest_call_share,
    round(avg(words_customer), 1)                                      AS customer_words_per_call
FROM calls, params p
GROUP BY agent_id, p.min_calls
HAVING count(*) >= p.min_calls
   AND count(*) FILTER (WHERE customer_share < p.quiet_share) > 0
ORDER BY quiet_calls_pct DESC, customer_share, agent_id;
