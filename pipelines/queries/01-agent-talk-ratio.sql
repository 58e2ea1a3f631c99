-- Question: per agent, how much of the talking does the agent do, and how
-- often do the agent and the customers cut each other off?
--
-- Reading the result: one row per agent, stereo calls with a known agent_id
-- only (mono calls have no per-speaker values; calls without an agent_id are
-- left out). Most talkative agents first.
--   agent_share         agent talk / (agent + customer talk) over all the
--                       agent's calls: 0.50 is an even conversation, 0.80 means
--                       the agent talks four times as much as the customer.
--   median_call_share   the same ratio per call, median over the calls (less
--                       swayed by one long call than agent_share).
--   interruptions_*     times that side started speaking while the other was
--                       speaking and both then spoke together >= 300 ms
--                       ([metrics] interruption_min_overlap_ms), in total and
--                       per 10 minutes of call time.
--   overlap_pct         share of call time both spoke at once.
-- Run: cd OUT && duckdb -c "$(cat /path/to/callsift/pipelines/queries/01-agent-talk-ratio.sql)"
SELECT
    agent_id,
    count(*)                                                        AS calls,
    round(sum(duration_ms) / 60000.0, 1)                            AS call_minutes,
    round(sum(talk_ms_agent) / nullif(sum(talk_ms_agent + talk_ms_customer), 0), 3)
                                                                    AS agent_share,
    round(median(talk_ratio_agent), 3)                              AS median_call_share,
    sum(interruptions_agent)                                        AS interruptions_by_agent,
    sum(interruptions_customer)                                     AS interruptions_by_customers,
    round(sum(interruptions_agent) * 600000.0 / nullif(sum(duration_ms), 0), 2)
                                                                    AS agent_interruptions_per_10min,
    round(sum(interruptions_customer) * 600000.0 / nullif(sum(duration_ms), 0), 2)
                                                                    AS customer_interruptions_per_10min,
    round(100.0 * sum(overlap_ms) / nullif(sum(duration_ms), 0), 1) AS overlap_pct
FROM read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)
WHERE agent_id IS NOT NULL
  AND talk_ratio_agent IS NOT NULL
GROUP BY agent_id
ORDER BY agent_share DESC, agent_id;
