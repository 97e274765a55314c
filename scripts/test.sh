#!/usr/bin/env bash
# `npm test`: provides the real servers (scripts/setup-servers.sh, cached), then runs every
# test/**/*.test.ts with Node's test runner. Extra arguments select test files.
set -euo pipefail
cd "$(dirname "$0")/.."

while IFS='=' read -r name path; do
  case "$name" in
    temporal) export BATON_TEMPORAL_BIN="$path" ;;
    test-server) export BATON_TEST_SERVER_BIN="$path" ;;
    etcd) export BATON_ETCD_BIN="$path" ;;
    kube-apiserver) export BATON_KUBE_APISERVER_BIN="$path" ;;
    notification-controller) export BATON_NOTIFICATION_CONTROLLER_BIN="$path" ;;
    tctl) export BATON_TCTL_BIN="$path" ;;
    helm) export BATON_HELM_BIN="$path" ;;
    chromium) export BATON_CHROMIUM_BIN="$path" ;;
  esac
done < <(bash scripts/setup-servers.sh)

if [[ $# -gt 0 ]]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
