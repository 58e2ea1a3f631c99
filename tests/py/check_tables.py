#!/usr/bin/env python3
"""Checks callsift's Parquet tables the way analysts read them.

Run by tests/tables_readers.rs (with the venv's python) on an output folder
it built; also runnable by hand:

    target/pyenv/bin/python tests/py/check_tables.py --out OUT \
        --queries pipelines/queries --expect expect.json

What it checks (every failure is collected, then all are printed):

* every pipelines/queries/*.sql runs with DuckDB from the output folder (a
  fresh connection each, so one query's SET does not leak into the next) and
  returns rows, except the queries in MAY_BE_EMPTY; a few spot checks of
  what some of them return;
* the designed call (tests/fixtures/tables/designed.json, the call of
  src/analyze/tests.rs) has the metrics worked out by hand there;
* the undated copy of it sits in date=__HIVE_DEFAULT_PARTITION__ with
  metrics from segment times;
* the designed call's rule hits and scorecard results (its `analysis`
  block, tests/fixtures/tables/designed-analysis.json) are its rows in
  `hits` and `scores`, and the undated copy has the hits of
  `undated_hit_rules` only (it is imported again with fewer);
* DuckDB, pandas (pd.read_parquet) and Polars (pl.scan_parquet with
  hive_partitioning) see the same columns and rows of all four tables, and
  the column types of docs/tables.md;
* the calls the pipeline made have agent_id, direction, queue and call_start
  from their file names;
* each call appears once in calls, its segments once in segments, its
  hits and scores beside them, all in the partition of its call row.

`--expect` is a JSON file the test writes: {"calls": N, "designed_call_id":
…, "undated_call_id": …, "undated_campaign": …, "undated_hit_rules": [rule,
…], "recordings": [{"file":
name, "direction": …, "agent_id": … or null, "customer_number": …,
"queue": …, "wall_start": "YYYY-MM-DDTHH:MM:SS"}]}.
"""

import argparse
import datetime as dt
import glob
import json
import math
import os
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as pads

CALLS = "read_parquet('parquet/calls/**/*.parquet', hive_partitioning = true)"
SEGMENTS = "read_parquet('parquet/segments/**/*.parquet', hive_partitioning = true)"
HITS = "read_parquet('parquet/hits/**/*.parquet', hive_partitioning = true)"
SCORES = "read_parquet('parquet/scores/**/*.parquet', hive_partitioning = true)"
TABLES = (("calls", CALLS), ("segments", SEGMENTS), ("hits", HITS), ("scores", SCORES))

# How pandas should discover the `date=` partitions (see check_readers).
HIVE = pads.HivePartitioning.discover(infer_dictionary=False)

# Queries that may rightly return nothing on the test's few calls.
MAY_BE_EMPTY = {"05-wpm-outliers.sql"}

# The column types of docs/tables.md, as DuckDB names them.
CALLS_TYPES = {
    "call_id": "VARCHAR",
    "source_path": "VARCHAR",
    "content_hash": "VARCHAR",
    "call_start": "TIMESTAMP WITH TIME ZONE",
    "duration_ms": "BIGINT",
    "channels": "INTEGER",
    "sample_rate_hz": "INTEGER",
    "codec": "VARCHAR",
    "agent_id": "VARCHAR",
    "customer_number": "VARCHAR",
    "direction": "VARCHAR",
    "campaign": "VARCHAR",
    "queue": "VARCHAR",
    "languages": "VARCHAR[]",
    "language_agent": "VARCHAR",
    "language_customer": "VARCHAR",
    "talk_ms": "BIGINT",
    "talk_ms_agent": "BIGINT",
    "talk_ms_customer": "BIGINT",
    "silence_ms": "BIGINT",
    "overlap_ms": "BIGINT",
    "interruptions_agent": "INTEGER",
    "interruptions_customer": "INTEGER",
    "longest_monologue_ms_agent": "BIGINT",
    "longest_monologue_ms_customer": "BIGINT",
    "words": "BIGINT",
    "words_agent": "BIGINT",
    "words_customer": "BIGINT",
    "wpm_agent": "DOUBLE",
    "wpm_customer": "DOUBLE",
    "talk_ratio_agent": "DOUBLE",
    "segments": "INTEGER",
    "mean_avg_logprob": "DOUBLE",
    "metrics_source": "VARCHAR",
    "model": "VARCHAR",
    "pipeline": "VARCHAR",
    "processed_at": "TIMESTAMP WITH TIME ZONE",
    "processing_ms": "BIGINT",
    "metadata": "VARCHAR",
    "metadata_source": "VARCHAR",
    "warnings": "INTEGER",
    "schema_version": "INTEGER",
    "date": "DATE",
}
SEGMENTS_TYPES = {
    "call_id": "VARCHAR",
    "call_start": "TIMESTAMP WITH TIME ZONE",
    "seg_no": "INTEGER",
    "speaker": "VARCHAR",
    "channel": "INTEGER",
    "start_ms": "BIGINT",
    "end_ms": "BIGINT",
    "language": "VARCHAR",
    "text": "VARCHAR",
    "avg_logprob": "FLOAT",
    "no_speech_prob": "FLOAT",
    "words": "INTEGER",
    "date": "DATE",
}
HITS_TYPES = {
    "call_id": "VARCHAR",
    "call_start": "TIMESTAMP WITH TIME ZONE",
    "agent_id": "VARCHAR",
    "customer_number": "VARCHAR",
    "rule": "VARCHAR",
    "kind": "VARCHAR",
    "severity": "VARCHAR",
    "speaker": "VARCHAR",
    "seg_no": "INTEGER",
    "start_ms": "BIGINT",
    "end_ms": "BIGINT",
    "matched_text": "VARCHAR",
    "phrase": "VARCHAR",
    "date": "DATE",
}
SCORES_TYPES = {
    "call_id": "VARCHAR",
    "call_start": "TIMESTAMP WITH TIME ZONE",
    "agent_id": "VARCHAR",
    "scorecard": "VARCHAR",
    "score": "DOUBLE",
    "criterion_no": "INTEGER",
    "section": "VARCHAR",
    "criterion": "VARCHAR",
    "weight": "DOUBLE",
    "critical": "BOOLEAN",
    "applicable": "BOOLEAN",
    "passed": "BOOLEAN",
    "evidence_ms": "BIGINT",
    "evidence_text": "VARCHAR",
    "date": "DATE",
}
TYPES = {"calls": CALLS_TYPES, "segments": SEGMENTS_TYPES, "hits": HITS_TYPES, "scores": SCORES_TYPES}

# The designed call of src/analyze/tests.rs, worked out by hand there:
# agent    [0,10) [10.5,20) [24.8,25) [30,35) [37.5,39) s
# customer              [19,25)          [34,36) [37,38) s      (40 s call)
DESIGNED = {
    "duration_ms": 40000,
    "channels": 2,
    # agent 10 + 9.5 + 0.2 + 5 + 1.5 = 26.2 s; customer 6 + 2 + 1 = 9 s
    "talk_ms_agent": 26200,
    "talk_ms_customer": 9000,
    # both: [19,20) + [24.8,25) + [34,35) + [37.5,38) = 2.7 s
    "overlap_ms": 2700,
    # anyone: 26.2 + 9 - 2.7 = 32.5 s; nobody: 40 - 32.5 = 7.5 s
    "talk_ms": 32500,
    "silence_ms": 7500,
    # customer cuts in at 19 s and 34 s (1 s together each); the agent's
    # 24.8 s start overlaps 0.2 s (< 0.3 s), its 37.5 s start 0.5 s
    "interruptions_customer": 2,
    "interruptions_agent": 1,
    # agent [0,10) + [10.5,20) across a 0.5 s pause; customer [19,25)
    "longest_monologue_ms_agent": 20000,
    "longest_monologue_ms_customer": 6000,
    # 10 + 3 agent words, 5 + 1 customer words
    "words": 19,
    "words_agent": 13,
    "words_customer": 6,
    # 13 / 26.2 s * 60 = 29.771; 6 / 9 s * 60 = 40
    "wpm_agent": 29.771,
    "wpm_customer": 40.0,
    # 26.2 / (26.2 + 9)
    "talk_ratio_agent": 0.7443,
    "segments": 4,
    "mean_avg_logprob": -0.25,
    "metrics_source": "vad",
    "agent_id": "101",
    "direction": "outbound",
    "language_agent": "pl",
    "language_customer": "pl",
    "languages": ["pl"],
    "schema_version": 1,
    "call_start_utc": "2026-11-20 09:15:00",
    "date": "2026-11-20",
}
DESIGNED_SEGMENTS = [
    # (seg_no, speaker, channel, start_ms, end_ms, words, text)
    (0, "agent", 0, 0, 20000, 10, "Dzień dobry, dzwonię z banku w sprawie pana nowej karty."),
    (1, "customer", 1, 19000, 25000, 5, "Tak, słucham, o co chodzi?"),
    (2, "agent", 0, 30000, 39000, 3, "Rozmowa jest nagrywana."),
    (3, "customer", 1, 34000, 38000, 1, "Dobrze."),
]
# Its analysis block (tests/fixtures/tables/designed-analysis.json) as rows,
# in the tables' order: hits by start, then rule (the block lists them in
# another order); scores by card name, then the card's own criterion order.
DESIGNED_HITS = [
    # (rule, kind, severity, speaker, seg_no, start_ms, end_ms, matched_text, phrase)
    ("dnc-list", "dnc_listed", "high", "", None, 0, 0, "600100200",
     "listed since 2026-10-01T08:00:00Z (call)"),
    ("card-offer", "watchlist", "high", "agent", 0, 12000, 20000, "nowej karty", "nowa karta"),
    ("recording-notice", "watchlist", "low", "agent", 2, 31000, 39000, "nagrywana", "nagrywana"),
]
DESIGNED_SCORES = [
    # (scorecard, score, criterion_no, section, criterion, weight, critical,
    #  applicable, passed, evidence_ms, evidence_text)
    ("collections", None, 0, "", "mini-miranda", 1.0, True, False, False, None, None),
    ("sales-basics", 60.0, 0, "opening", "greeting", 1.0, False, True, True, 0, "Dzień dobry"),
    ("sales-basics", 60.0, 1, "compliance", "recording-disclosure", 2.0, True, True, True, 30000,
     "Rozmowa jest nagrywana"),
    ("sales-basics", 60.0, 2, "closing", "thanks", 2.0, False, True, False, None, None),
    ("sales-basics", 60.0, 3, "closing", "retention-offer", 1.0, False, False, False, None, None),
]
# The rules of the designed analysis with severity high (12-hits-per-rule-day.sql).
HIGH_RULES = {"card-offer", "dnc-list"}

# The undated copy has no talk spans: metrics from segment times.
# agent segments [0,20) + [30,39) = 29 s; customer [19,25) + [34,38) = 10 s;
# both [19,20) + [34,38) = 5 s.
UNDATED = {
    "talk_ms_agent": 29000,
    "talk_ms_customer": 10000,
    "overlap_ms": 5000,
    "metrics_source": "segments",
}

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
    return cond


def same(actual, expected):
    if isinstance(expected, float) and actual is not None:
        return math.isclose(float(actual), expected, rel_tol=0, abs_tol=1e-9)
    return actual == expected


def rows_of(con, sql):
    """Runs every statement of `sql`; the last one's columns and rows."""
    cur = con.execute(sql)
    if cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()


def dicts(con, sql):
    cols, rows = rows_of(con, sql)
    return [dict(zip(cols, r)) for r in rows]


def run_queries(queries_dir, expect):
    files = sorted(glob.glob(os.path.join(queries_dir, "*.sql")))
    check(len(files) >= 8, f"expected at least 8 queries in {queries_dir}, found {len(files)}")
    results = {}
    for path in files:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        check(text.lstrip().startswith("--"), f"{name}: does not start with a comment")
        con = duckdb.connect()  # fresh: a query's SET TimeZone must not leak
        try:
            cols, rows = rows_of(con, text)
        except duckdb.Error as e:
            check(False, f"{name}: DuckDB error: {e}")
            continue
        finally:
            con.close()
        print(f"  {name}: {len(rows)} rows")
        if name not in MAY_BE_EMPTY:
            check(len(rows) > 0, f"{name}: returned no rows")
        results[name] = [dict(zip(cols, r)) for r in rows]
    spot_checks(results, expect)


def spot_checks(results, expect):
    """What some queries must say about the designed call and the whole set."""
    designed = expect["designed_call_id"]
    if (r := results.get("01-agent-talk-ratio.sql")) is not None:
        check(any(x["agent_id"] == "101" for x in r), "01: no row for agent 101")
        for x in r:
            check(0 <= x["agent_share"] <= 1, f"01: agent_share out of 0..1: {x}")
    if (r := results.get("03-calls-per-day-direction.sql")) is not None:
        total = sum(x["calls"] for x in r)
        check(total == expect["calls"], f"03: {total} calls over all days, expected {expect['calls']}")
        for x in r:
            parts = x["inbound"] + x["outbound"] + x["internal"] + x["unknown"]
            check(parts == x["calls"], f"03: directions do not add up: {x}")
    if (r := results.get("04-longest-monologues.sql")) is not None:
        mine = [x for x in r if x["call_id"] == designed]
        check(
            {(x["side"], x["monologue_s"]) for x in mine} >= {("agent", 20.0), ("customer", 6.0)},
            f"04: designed call's monologues not 20 s / 6 s: {mine}",
        )
    if (r := results.get("06-quiet-customers.sql")) is not None:
        # customer share of the designed call: 9 / 35.2 = 0.2557 < 0.30
        check(
            any(x["agent_id"] == "101" and x["quiet_calls"] >= 1 for x in r),
            f"06: agent 101's quiet designed call not found: {r}",
        )
    if (r := results.get("07-campaign-language.sql")) is not None:
        check(any(x["language"] == "pl" for x in r), f"07: no Polish calls: {r}")
    if (r := results.get("08-search-segments.sql")) is not None:
        hits = [x for x in r if x["call_id"] == designed]
        check(
            len(hits) == 1 and "nowej karty" in hits[0]["text"] and hits[0]["at"] == "00:00:00",
            f"08: '%karty%' did not find the designed call's first segment once: {hits}",
        )
    if (r := results.get("11-scores-per-agent.sql")) is not None:
        # The designed call: 2026-11-20 is in the (local) week of Monday 16th;
        # 3 of 5 applicable weight met = 60, "thanks" the one failed.
        week = [x for x in r if x["agent_id"] == "101" and x["local_week"] == dt.date(2026, 11, 16)]
        sales = [x for x in week if x["scorecard"] == "sales-basics"]
        check(
            len(sales) == 1 and sales[0]["avg_score"] == 60.0 and sales[0]["scored_calls"] == 1
            and sales[0]["weakest_criterion"] == "thanks" and sales[0]["zeroed_calls"] == 0,
            f"11: agent 101's sales-basics week of 2026-11-16 is not one call scored 60 failing 'thanks': {sales}",
        )
        collections = [x for x in week if x["scorecard"] == "collections"]
        check(
            len(collections) == 1 and collections[0]["avg_score"] is None and collections[0]["not_applicable"] == 1,
            f"11: agent 101's collections card should have applied to no call: {collections}",
        )
    if (r := results.get("12-hits-per-rule-day.sql")) is not None:
        day = {(x["rule"], x["hits"], x["calls"]) for x in r if x["local_day"] == dt.date(2026, 11, 20)}
        check(day == {("card-offer", 1, 1), ("dnc-list", 1, 1)}, f"12: high hits of 2026-11-20: {day}")
        card = [x for x in r if x["rule"] == "card-offer" and x["local_day"] is not None]
        check(
            len(card) == 1 and card[0]["example_call"] == designed and card[0]["example_at"] == "00:00:12",
            f"12: card-offer's example is not the designed call at 00:00:12: {card}",
        )
        undated = {x["rule"] for x in r if x["local_day"] is None}
        want = HIGH_RULES & set(expect.get("undated_hit_rules", []))
        check(undated == want, f"12: high hits of the undated call: {undated}, expected {want}")
    if (r := results.get("10-partitions.sql")) is not None:
        for x in r:
            check(x["duplicate_calls"] == 0, f"10: duplicate calls in a partition: {x}")
            check(
                x["segment_rows"] == x["segments_per_calls"],
                f"10: segment rows do not match the calls' segment counts: {x}",
            )
            check(x["schema_versions"] == "1", f"10: schema_version not 1: {x}")


def check_types(con, expect):
    for table, src in TABLES:
        want = TYPES[table]
        got = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        check(
            list(got) == list(want),
            f"{table}: columns {list(got)} differ from docs/tables.md {list(want)}",
        )
        for col, t in want.items():
            if col in got:
                check(got[col] == t, f"{table}.{col}: DuckDB type {got[col]}, expected {t}")


def check_designed(con, expect):
    cid = expect["designed_call_id"]
    rows = dicts(
        con,
        f"""SELECT * REPLACE (date::VARCHAR AS date),
                   strftime(call_start AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') AS call_start_utc
            FROM {CALLS} WHERE call_id = '{cid}'""",
    )
    if not check(len(rows) == 1, f"designed call {cid}: {len(rows)} rows in calls, expected 1"):
        return
    row = rows[0]
    for col, want in DESIGNED.items():
        check(same(row.get(col), want), f"designed call: {col} = {row.get(col)!r}, expected {want!r}")
    segs = con.execute(
        f"""SELECT seg_no, speaker, channel, start_ms, end_ms, words, text FROM {SEGMENTS}
            WHERE call_id = '{cid}' ORDER BY seg_no"""
    ).fetchall()
    check(segs == DESIGNED_SEGMENTS, f"designed call's segments: {segs}, expected {DESIGNED_SEGMENTS}")
    probs = con.execute(
        f"""SELECT DISTINCT avg_logprob, round(no_speech_prob::DOUBLE, 4), date::VARCHAR, epoch_us(call_start)
            FROM {SEGMENTS} WHERE call_id = '{cid}'"""
    ).fetchall()
    want = [(-0.25, 0.01, "2026-11-20", 1795166100000000)]
    check(probs == want, f"designed segments' avg_logprob, no_speech_prob, date, call_start: {probs}, expected {want}")

    uid = expect.get("undated_call_id")
    if uid:
        rows = dicts(con, f"SELECT * FROM {CALLS} WHERE call_id = '{uid}'")
        if check(len(rows) == 1, f"undated call {uid}: {len(rows)} rows in calls, expected 1"):
            row = rows[0]
            check(row["date"] is None and row["call_start"] is None, f"undated call: date/call_start not NULL: {row}")
            for col, want in UNDATED.items():
                check(same(row[col], want), f"undated call: {col} = {row[col]!r}, expected {want!r}")
            check(
                row["campaign"] == expect.get("undated_campaign"),
                f"undated call: campaign {row['campaign']!r}, expected {expect.get('undated_campaign')!r} "
                "(a call imported again must replace its row)",
            )
        n = con.execute(f"SELECT count(*) FROM {SEGMENTS} WHERE call_id = '{uid}' AND date IS NULL").fetchone()[0]
        check(n == 4, f"undated call: {n} segments in the default partition, expected 4")
        for table in ("calls", "segments", "hits", "scores"):
            found = glob.glob(f"parquet/{table}/date=__HIVE_DEFAULT_PARTITION__/*.parquet")
            check(found, f"no parquet/{table}/date=__HIVE_DEFAULT_PARTITION__/ part for the undated call")
        rules = sorted(r[0] for r in con.execute(f"SELECT rule FROM {HITS} WHERE call_id = '{uid}'").fetchall())
        want = sorted(expect.get("undated_hit_rules", []))
        check(rules == want, f"undated call's hits: {rules}, expected {want} (imported again with these only)")
    check_designed_analysis(con, cid)


def check_designed_analysis(con, cid):
    """The designed call's analysis block, as rows of `hits` and `scores`."""
    hits = con.execute(
        f"""SELECT rule, kind, severity, speaker, seg_no, start_ms, end_ms, matched_text, phrase
            FROM {HITS} WHERE call_id = '{cid}' ORDER BY start_ms, rule"""
    ).fetchall()
    check(hits == DESIGNED_HITS, f"designed call's hits: {hits}, expected {DESIGNED_HITS}")
    scores = con.execute(
        f"""SELECT scorecard, score, criterion_no, section, criterion, weight, critical, applicable,
                   passed, evidence_ms, evidence_text
            FROM {SCORES} WHERE call_id = '{cid}' ORDER BY scorecard, criterion_no"""
    ).fetchall()
    check(scores == DESIGNED_SCORES, f"designed call's scores: {scores}, expected {DESIGNED_SCORES}")
    for table, src in (("hits", HITS), ("scores", SCORES)):
        facts = con.execute(
            f"""SELECT DISTINCT agent_id, date::VARCHAR, epoch_us(call_start) FROM {src}
                WHERE call_id = '{cid}'"""
        ).fetchall()
        want = [("101", "2026-11-20", 1795166100000000)]
        check(facts == want, f"designed {table}' agent_id, date, call_start: {facts}, expected {want}")
    numbers = con.execute(f"SELECT DISTINCT customer_number FROM {HITS} WHERE call_id = '{cid}'").fetchall()
    check(numbers == [(None,)], f"designed hits' customer_number (none in its metadata): {numbers}")


def check_readers(con, expect):
    """pandas and Polars see what DuckDB sees."""
    for table, src in TABLES:
        d_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        d_count = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
        d_ids = sorted(r[0] for r in con.execute(f"SELECT call_id FROM {src}").fetchall())

        # As docs/tables.md says: pyarrow's default hive discovery makes `date`
        # a dictionary column that cannot hold the default partition's NULL
        # next to dates ("Cannot yet unify dictionaries with nulls").
        pdf = pd.read_parquet(os.path.join("parquet", table), partitioning=HIVE)
        check(list(pdf.columns) == d_cols, f"pandas {table}: columns {list(pdf.columns)} != DuckDB's {d_cols}")
        check(len(pdf) == d_count, f"pandas {table}: {len(pdf)} rows, DuckDB {d_count}")
        check(sorted(pdf["call_id"]) == d_ids, f"pandas {table}: call_ids differ from DuckDB's")
        tz = getattr(pdf["call_start"].dtype, "tz", None)
        check(str(tz) == "UTC", f"pandas {table}.call_start: dtype {pdf['call_start'].dtype}, expected UTC")

        lf = pl.scan_parquet(os.path.join("parquet", table) + "/", hive_partitioning=True)
        p_cols = lf.collect_schema().names()
        p_count = lf.select(pl.len()).collect().item()
        check(p_cols == d_cols, f"polars {table}: columns {p_cols} != DuckDB's {d_cols}")
        check(p_count == d_count, f"polars {table}: {p_count} rows, DuckDB {d_count}")
        p_ids = sorted(lf.select("call_id").collect()["call_id"].to_list())
        check(p_ids == d_ids, f"polars {table}: call_ids differ from DuckDB's")
        p_ts = lf.collect_schema()["call_start"]
        check(
            isinstance(p_ts, pl.Datetime) and p_ts.time_zone == "UTC",
            f"polars {table}.call_start: {p_ts}, expected Datetime(tz=UTC)",
        )

        if table == "calls":
            cid = expect["designed_call_id"]
            prow = pdf[pdf["call_id"] == cid]
            if check(len(prow) == 1, f"pandas: designed call {len(prow)} times"):
                prow = prow.iloc[0]
                check(str(prow["date"]) == "2026-11-20", f"pandas: designed date {prow['date']!r}")
                check(int(prow["talk_ms_agent"]) == 26200, "pandas: designed talk_ms_agent")
                check(math.isclose(prow["wpm_agent"], 29.771), "pandas: designed wpm_agent")
                check(list(prow["languages"]) == ["pl"], f"pandas: designed languages {prow['languages']!r}")
                check(
                    prow["call_start"] == pd.Timestamp("2026-11-20T09:15:00Z"),
                    f"pandas: designed call_start {prow['call_start']!r}",
                )
            lrow = lf.filter(pl.col("call_id") == cid).collect()
            if check(lrow.height == 1, f"polars: designed call {lrow.height} times"):
                r = lrow.row(0, named=True)
                check(str(r["date"]) == "2026-11-20", f"polars: designed date {r['date']!r}")
                check(r["talk_ms_customer"] == 9000, "polars: designed talk_ms_customer")
                check(r["talk_ratio_agent"] == 0.7443, "polars: designed talk_ratio_agent")
                check(
                    r["call_start"] == dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.timezone.utc),
                    f"polars: designed call_start {r['call_start']!r}",
                )
            uid = expect.get("undated_call_id")
            if uid:
                pu = pdf[pdf["call_id"] == uid]
                check(len(pu) == 1 and pd.isna(pu.iloc[0]["date"]), "pandas: undated call's date is not null")
                lu = lf.filter(pl.col("call_id") == uid).collect()
                check(lu.height == 1 and lu["date"][0] is None, "polars: undated call's date is not null")


def check_recordings(con, expect):
    """The pipeline's calls carry what their Asterisk file names say."""
    rows = dicts(
        con,
        f"""SELECT call_id, source_path, agent_id, customer_number, direction, queue,
                   metadata_source, epoch_us(call_start) AS start_us, date::VARCHAR AS date
            FROM {CALLS}""",
    )
    for rec in expect.get("recordings", []):
        mine = [r for r in rows if os.path.basename(r["source_path"]) == rec["file"]]
        if not check(len(mine) == 1, f"{rec['file']}: {len(mine)} rows in calls, expected 1"):
            continue
        r = mine[0]
        for key in ("direction", "agent_id", "customer_number", "queue"):
            if rec.get(key) is not None:
                check(r[key] == rec[key], f"{rec['file']}: {key} = {r[key]!r}, expected {rec[key]!r} from the name")
        if rec.get("direction") is not None:
            src = json.loads(r["metadata_source"] or "{}").get("direction", "")
            check(src.startswith("filename"), f"{rec['file']}: direction came from {src!r}, not the file name")
        wall = rec.get("wall_start")
        if wall is None:
            continue
        if not check(r["start_us"] is not None, f"{rec['file']}: no call_start"):
            continue
        # The name holds local wall-clock time; the zone is the pipeline's
        # (the machine's by default): any real zone is within 14 h of UTC
        # and a multiple of 15 minutes off it.
        start = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=r["start_us"])
        naive = dt.datetime.fromisoformat(wall).replace(tzinfo=dt.timezone.utc)
        off = (naive - start).total_seconds()
        check(
            abs(off) <= 14 * 3600 and off % 900 == 0,
            f"{rec['file']}: call_start {start.isoformat()} is not {wall} in any time zone",
        )
        check(r["date"] == start.strftime("%Y-%m-%d"), f"{rec['file']}: partition date {r['date']} != UTC date of {start}")


def check_unique(con, expect):
    dup_calls = con.execute(f"SELECT call_id, count(*) FROM {CALLS} GROUP BY call_id HAVING count(*) > 1").fetchall()
    check(not dup_calls, f"calls appearing more than once: {dup_calls}")
    dup_segs = con.execute(
        f"SELECT call_id, seg_no, count(*) FROM {SEGMENTS} GROUP BY call_id, seg_no HAVING count(*) > 1"
    ).fetchall()
    check(not dup_segs, f"segments appearing more than once: {dup_segs[:10]}")
    mismatch = con.execute(
        f"""SELECT c.call_id, c.segments, count(s.call_id) AS n
            FROM {CALLS} c LEFT JOIN {SEGMENTS} s USING (call_id)
            GROUP BY c.call_id, c.segments HAVING count(s.call_id) <> c.segments"""
    ).fetchall()
    check(not mismatch, f"calls whose segment rows differ from their segments count: {mismatch}")
    orphans = con.execute(f"SELECT DISTINCT call_id FROM {SEGMENTS} WHERE call_id NOT IN (SELECT call_id FROM {CALLS})").fetchall()
    check(not orphans, f"segments of calls not in the calls table: {orphans}")
    moved = con.execute(
        f"""SELECT DISTINCT s.call_id FROM {SEGMENTS} s JOIN {CALLS} c USING (call_id)
            WHERE s.date IS DISTINCT FROM c.date"""
    ).fetchall()
    check(not moved, f"segments in another partition than their call: {moved}")
    dup_hits = con.execute(
        f"""SELECT call_id, rule, start_ms, count(*) FROM {HITS}
            GROUP BY call_id, rule, start_ms, matched_text HAVING count(*) > 1"""
    ).fetchall()
    check(not dup_hits, f"hits appearing more than once: {dup_hits[:10]}")
    dup_scores = con.execute(
        f"""SELECT call_id, scorecard, criterion_no, count(*) FROM {SCORES}
            GROUP BY call_id, scorecard, criterion_no HAVING count(*) > 1"""
    ).fetchall()
    check(not dup_scores, f"score rows appearing more than once: {dup_scores[:10]}")
    for table, src in (("hits", HITS), ("scores", SCORES)):
        orphans = con.execute(
            f"SELECT DISTINCT call_id FROM {src} WHERE call_id NOT IN (SELECT call_id FROM {CALLS})"
        ).fetchall()
        check(not orphans, f"{table} of calls not in the calls table: {orphans}")
        moved = con.execute(
            f"""SELECT DISTINCT x.call_id FROM {src} x JOIN {CALLS} c USING (call_id)
                WHERE x.date IS DISTINCT FROM c.date OR x.call_start IS DISTINCT FROM c.call_start"""
        ).fetchall()
        check(not moved, f"{table} in another partition, or with another call_start, than their call: {moved}")
    n = con.execute(f"SELECT count(*) FROM {CALLS}").fetchone()[0]
    check(n == expect["calls"], f"{n} calls in the table, expected {expect['calls']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="callsift output folder (holds parquet/)")
    ap.add_argument("--queries", required=True, help="folder of the analyst .sql queries")
    ap.add_argument("--expect", required=True, help="JSON file of expectations (see the module docs)")
    args = ap.parse_args()
    with open(args.expect, encoding="utf-8") as f:
        expect = json.load(f)
    queries = os.path.abspath(args.queries)
    os.chdir(args.out)  # the queries read 'parquet/…' relative to the output folder
    for table, _ in TABLES:
        if not glob.glob(f"parquet/{table}/date=*/*.parquet"):
            print(f"no parquet/{table}/date=*/*.parquet under {args.out}: the tables were not written",
                  file=sys.stderr)
            return 1
    print(f"duckdb {duckdb.__version__}, pandas {pd.__version__}, polars {pl.__version__}")
    print("queries:")
    run_queries(queries, expect)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for step in (check_types, check_designed, check_readers, check_recordings, check_unique):
        try:
            step(con, expect)
        except Exception as e:  # a reader that cannot read at all is a failure too
            check(False, f"{step.__name__}: {type(e).__name__}: {e}")
    if failures:
        print(f"\n{len(failures)} check(s) failed:", file=sys.stderr)
        for f in failures:
            print(f"  FAIL {f}", file=sys.stderr)
        return 1
    print("all table checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
