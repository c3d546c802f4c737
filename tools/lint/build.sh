#!/usr/bin/env bash
# Builds golangci-lint from its Go module (never a prebuilt binary) and links it as
# bin/golangci-lint. The binary is cached per version outside the work tree, like the CLIs
# of tools/clis/build.sh, so that a fresh clone on the same machine does not rebuild it.
set -euo pipefail

GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:-v2.15.0}"
module=github.com/golangci/golangci-lint/v2
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${INSTANTCLONE_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/instantclone-clis}"
out="$cache/golangci-lint-$GOLANGCI_LINT_VERSION"
mkdir -p "$root/bin" "$cache"

if [ ! -x "$out" ]; then
  echo "building golangci-lint $GOLANGCI_LINT_VERSION from $module (once; cached in $cache)" >&2
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # Downloaded from an empty directory so that the provider's go.mod and go.sum stay untouched.
  src="$(cd "$work" && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "$module@$GOLANGCI_LINT_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "could not download $module@$GOLANGCI_LINT_VERSION" >&2; exit 1; }
  mkdir "$work/src"
  cp -r "$src/." "$work/src/"
  chmod -R u+w "$work/src"
  # The version is stamped in the way golangci-lint's own release build does it.
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-s -w -X main.version=${GOLANGCI_LINT_VERSION#v} -X main.commit=module -X main.date=unknown" \
    -o "$out.tmp" ./cmd/golangci-lint)
  mv "$out.tmp" "$out"
fi
ln -sf "$out" "$root/bin/golangci-lint"
"$root/bin/golangci-lint" version
