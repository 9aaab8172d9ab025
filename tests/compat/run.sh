#!/usr/bin/env bash
# Run the fdfs (npm) compatibility harness. All arguments go to compat.mjs, e.g.
#   tests/compat/run.sh --tracker 127.0.0.5:22122 --workdir /tmp/compat [--verbose]
# stdout carries only the JSON result; npm output goes to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "run.sh: node not found (Node >= 18 required)" >&2; exit 2; }
command -v npm >/dev/null || { echo "run.sh: npm not found" >&2; exit 2; }

# node_modules/.package-lock.json is written by npm ci/install: missing or
# older than package-lock.json means node_modules is absent or stale.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ ! -f node_modules/fdfs/package.json ] \
   || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "run.sh: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

exec node compat.mjs "$@"
