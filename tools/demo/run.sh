#!/usr/bin/env bash
# The main job: start the simulator, apply examples/quickstart with the real CLI, show what
# was published and cloned, check the next plan is empty, destroy, and stop the simulator.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/bin"
cli="${DEMO_CLI:-$bin/terraform}"
work="$bin/demo"
rm -rf "$work" && mkdir -p "$work"

go build -o "$bin/vcsim" "$root/tools/vcsim"
go build -o "$bin/inventory" "$root/tools/inventory"

"$bin/vcsim" -listen 127.0.0.1:0 -env-file "$work/vcsim.env" >"$work/vcsim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$work/vcsim.env" ] && break
  kill -0 $sim 2>/dev/null || { cat "$work/vcsim.log"; exit 1; }
  sleep 0.2
done
[ -s "$work/vcsim.env" ] || { echo "simulator did not start"; cat "$work/vcsim.log"; exit 1; }
# shellcheck disable=SC1091
source "$work/vcsim.env"
echo "== simulator on $VSPHERE_SERVER"

# Run the provider just built: dev_overrides for both registries' spellings of its address.
cat >"$work/dev.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "registry.terraform.io/instantclone/instantclone" = "$bin"
    "registry.opentofu.org/instantclone/instantclone" = "$bin"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$work/dev.tfrc" TF_IN_AUTOMATION=1
cp "$root"/examples/quickstart/*.tf "$work/"
cd "$work"

echo "== $("$cli" version | head -1): apply examples/quickstart"
if ! "$cli" apply -auto-approve -input=false -no-color >"$work/apply.log" 2>&1; then
  cat "$work/apply.log"; echo "apply failed"; exit 1
fi
grep -E '^(instantclone_[a-z_.]+: (Creation complete|Creating)|Apply complete)' "$work/apply.log" | grep -v 'Still creating'
"$cli" output -no-color image
echo "== what vCenter holds now"
"$bin/inventory"
echo "== clones per datastore"
"$cli" output -no-color clones_per_datastore
echo "== next plan (expect no changes)"
set +e
"$cli" plan -detailed-exitcode -input=false -no-color >"$work/plan.log" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$work/plan.log"; echo "plan after apply was not empty (exit $code)"; exit 1; }
echo "no changes"
echo "== destroy"
if ! "$cli" destroy -auto-approve -input=false -no-color >"$work/destroy.log" 2>&1; then
  cat "$work/destroy.log"; echo "destroy failed"; exit 1
fi
grep 'Destroy complete' "$work/destroy.log"
left=$("$bin/inventory" | grep -c -e ' cp-' -e ' desk-' || true)
[ "$left" -eq 0 ] || { "$bin/inventory"; echo "VMs left after destroy"; exit 1; }
echo "== demo done: image published, pool created and destroyed, nothing left behind"
