#!/usr/bin/env bash
# scripts/sweep.py with the project's Python: the .venv when there is one,
# else $PYTHON, else python3. The original-named scripts in cifar/ and audio/ call this.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
[ -x "$repo/.venv/bin/python" ] && python="$repo/.venv/bin/python"
exec "$python" "$repo/scripts/sweep.py" "$@"
