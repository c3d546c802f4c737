#!/usr/bin/env bash
# Builds the Terraform and OpenTofu CLIs the acceptance tests run, from their Go modules
# (never a prebuilt binary), into bin/. Built binaries are cached per version outside the
# work tree so that a fresh clone on the same machine does not rebuild them.
set -euo pipefail
# A CLI configuration that does not exist makes OpenTofu print warnings before its version.
[ -f "${TF_CLI_CONFIG_FILE:-}" ] || export TF_CLI_CONFIG_FILE=/dev/null

TERRAFORM_VERSION="${TERRAFORM_VERSION:-v1.5.7}"
OPENTOFU_VERSION="${OPENTOFU_VERSION:-v1.12.6}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${INSTANTCLONE_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/instantclone-clis}"
mkdir -p "$root/bin" "$cache"

# build NAME MODULE VERSION PACKAGE: builds MODULE@VERSION's PACKAGE as NAME unless cached.
build() {
  local name=$1 module=$2 version=$3 pkg=$4
  local out="$cache/$name-$version"
  if [ ! -x "$out" ]; then
    echo "building $name $version from $module (once; cached in $cache)" >&2
    local src
    src="$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$src" ] || { echo "could not download $module@$version" >&2; exit 1; }
    local work
    work="$(mktemp -d)"
    cp -r "$src/." "$work/"
    chmod -R u+w "$work"
    (cd "$work" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$out.tmp" "$pkg")
    mv "$out.tmp" "$out"
    rm -rf "$work"
  fi
  ln -sf "$out" "$root/bin/$name"
}

build terraform github.com/hashicorp/terraform "$TERRAFORM_VERSION" .
build tofu github.com/opentofu/opentofu "$OPENTOFU_VERSION" ./cmd/tofu
for cli in terraform tofu; do
  v="$("$root/bin/$cli" version)"
  echo "${v%%$'\n'*}"
done
