#!/usr/bin/env bash
# `npm run reliability`: the reliability suite, the fast scenarios (test/reliability/, also part of
# `npm test`) and the slow ones (reliability/, only here), each on real servers.
# `npm run reliability -- <scenario>…`: only those, named by file (`soak`, `hostile-requests`) or path.
set -euo pipefail
cd "$(dirname "$0")/.."

files=()
if [[ $# -eq 0 ]]; then
  mapfile -t files < <(find reliability test/reliability -name '*.test.ts' | sort)
else
  for scenario in "$@"; do
    if [[ -f "$scenario" ]]; then
      files+=("$scenario")
      continue
    fi
    mapfile -t matches < <(find reliability test/reliability -name "${scenario%.test.ts}.test.ts" | sort)
    if [[ ${#matches[@]} -eq 0 ]]; then
      echo "no reliability scenario named ${scenario}; known:" >&2
      find reliability test/reliability -name '*.test.ts' -printf '  %f\n' | sed 's/\.test\.ts$//' | sort -u >&2
      exit 2
    fi
    files+=("${matches[@]}")
  done
fi
exec bash scripts/test.sh "${files[@]}"
