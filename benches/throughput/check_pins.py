"""Exit 0 when every `name==version` pin of a requirements file is installed
at exactly that version, else 1 (naming the first unmet pin on stderr).

The throughput bench runs this with its venv's Python to decide whether
`pip install -r` is needed, so a venv that already matches costs no network.
"""

import importlib.metadata as metadata
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, want = line.partition("==")
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                have = None
            if have != want:
                print(f"{name}: want {want}, have {have}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
