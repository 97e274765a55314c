#!/usr/bin/env bash
# `npm test`: every test/**/*.test.ts on real servers, all prepared first (scripts/setup-servers.sh).
# `npm test -- <files>`: only those files, and only the servers they use.
# The slow reliability scenarios live in reliability/, outside test/: only `npm run reliability` runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node 24 or later: on a machine whose own Node is older, the pinned one, first on PATH for every
# node, npm and tsx below (scripts/use-node.mjs installs it once into the cache).
node_bin=$(node scripts/use-node.mjs --bin-dir)
if [[ -n "$node_bin" ]]; then export PATH="$node_bin:$PATH"; fi

if [[ $# -gt 0 ]]; then
  files=("$@")
  # Built from source, a component takes minutes, longer than a test may wait: build the ones these
  # files can reach now. Downloads wait until a test asks for them (test/infra/binaries.ts).
  mapfile -t components < <(node scripts/servers-used.mjs "${files[@]}" |
    grep -Ex 'etcd|kube-apiserver|notification-controller|tctl|helm|prometheus|temporal-server|temporal-sql-tool' || true)
else
  mapfile -t files < <(find test -name '*.test.ts' | sort)
  components=(temporal test-server etcd kube-apiserver notification-controller tctl helm prometheus chromium
    temporal-server temporal-sql-tool temporal-server-source postgresql)
fi

if [[ ${#components[@]} -gt 0 ]]; then
  while IFS='=' read -r name path; do
    case "$name" in
      temporal) export BATON_TEMPORAL_BIN="$path" ;;
      test-server) export BATON_TEST_SERVER_BIN="$path" ;;
      etcd) export BATON_ETCD_BIN="$path" ;;
      kube-apiserver) export BATON_KUBE_APISERVER_BIN="$path" ;;
      notification-controller) export BATON_NOTIFICATION_CONTROLLER_BIN="$path" ;;
      tctl) export BATON_TCTL_BIN="$path" ;;
      helm) export BATON_HELM_BIN="$path" ;;
      prometheus) export BATON_PROMETHEUS_BIN="$path" ;;
      chromium) export BATON_CHROMIUM_BIN="$path" ;;
      temporal-server) export BATON_TEMPORAL_SERVER_BIN="$path" ;;
      temporal-sql-tool) export BATON_TEMPORAL_SQL_TOOL_BIN="$path" ;;
      temporal-server-source) export BATON_TEMPORAL_SERVER_SOURCE="$path" ;;
      postgresql) export BATON_POSTGRESQL_BIN_DIR="$path" ;;
    esac
  done < <(bash scripts/setup-servers.sh "${components[@]}")
fi
exec node --import tsx --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
