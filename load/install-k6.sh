#!/usr/bin/env bash
# Builds k6 v2.2.0 from the Go module proxy into .tools/bin/k6, cached in ~/.cache/tenantproof.
# `go install go.k6.io/k6/v2@v2.2.0` trips over the proxy's missing version list (the deprecation
# look-up 404s), so build it from a throwaway module that requires the exact version instead.
set -euo pipefail
K6_VERSION=v2.2.0
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tenantproof/k6-$K6_VERSION"
mkdir -p "$root/.tools/bin"
if [ ! -x "$cache/k6" ]; then
  command -v go >/dev/null || { echo "install-k6: go is not on PATH (k6 is built from source with Go >= 1.25)" >&2; exit 2; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf 'module k6build\n\ngo 1.25\n\nrequire go.k6.io/k6/v2 %s\n' "$K6_VERSION" > "$work/go.mod"
  printf 'package main\n\nimport _ "go.k6.io/k6/v2"\n' > "$work/tools.go"
  mkdir -p "$cache"
  echo "install-k6: building k6 $K6_VERSION (a few minutes the first time)"
  (cd "$work" && GOFLAGS=-mod=mod GOPROXY="${GOPROXY:-https://proxy.golang.org}" go mod tidy >/dev/null && go build -o "$cache/k6.tmp" go.k6.io/k6/v2)
  mv "$cache/k6.tmp" "$cache/k6"
fi
cp "$cache/k6" "$root/.tools/bin/k6"
"$root/.tools/bin/k6" version | head -1
