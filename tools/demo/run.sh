#!/usr/bin/env bash
# The main job, on the bundled simulator with the real CLI: publish an image, create a pool,
# push a new image in batches, attach a datastore and watch the rebalance, tamper out of band
# and see plan report the drift, apply to repair, destroy with nothing left. Each step prints
# a short table and checks its result; the demo exits non-zero if any step does not hold.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/bin"
cli="${DEMO_CLI:-$bin/terraform}"
work="$bin/demo"
rm -rf "$work" && mkdir -p "$work"

go build -o "$bin/vcsim" "$root/tools/vcsim"
go build -o "$bin/inventory" "$root/tools/inventory"
go build -o "$bin/tamper" "$root/tools/demo/tamper"

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
read -r -a ds <<<"$(tr -d '[]" ' <<<"$TF_VAR_datastore_ids" | tr ',' ' ')"

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
cp "$root"/tools/demo/config/*.tf "$work/"
cd "$work"

fail() { echo "FAILED: $*"; exit 1; }
step() { echo; echo "== $*"; }
# apply VARS...: apply, print what changed in one line per resource.
apply() {
  "$cli" apply -auto-approve -input=false -no-color "$@" >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; fail "apply $*"; }
  grep -E '^[a-z_.]+(\[[0-9]+\])?: (Creation|Modifications|Destruction) complete|^Apply complete' "$work/apply.log" | sed -E 's/ \[id=.*\]$//; s/^/  /'
}
# plan_exits CODE VARS...: plan -detailed-exitcode must exit CODE (0 no changes, 2 changes).
plan_exits() {
  local want=$1 code=0
  shift
  "$cli" plan -detailed-exitcode -input=false -no-color "$@" >"$work/plan.log" 2>&1 || code=$?
  [ "$code" -eq "$want" ] || { cat "$work/plan.log"; fail "plan exited $code, want $want"; }
  echo "  plan -detailed-exitcode: exit $code ($([ "$code" -eq 0 ] && echo "no changes" || echo "changes"))"
}
pool_table() { "$bin/inventory" -pool desktops "$@" || fail "pool check $*"; }
templates() { "$bin/inventory" | grep -c ' cp-template-' || true; }

echo "== $("$cli" version | head -1) on the simulator at $VSPHERE_SERVER; datastores ${ds[*]}"

step "1. publish an image (snapshot base)"
apply -var snapshot=base
img1=$("$cli" output -raw image_id)
printf '  %-14s %-12s %s\n' image template_vm state "$img1" "$("$cli" output -raw template_vm_id)" published
[ "$(templates)" -eq 1 ] || fail "want one template VM"

step "2. create a pool of 8 clones on ${ds[0]} and ${ds[1]}"
apply -var snapshot=base -var with_pool=true
pool_table -datastores "${ds[0]},${ds[1]}" -want-clones 8 -want-image "$img1"
plan_exits 0 -var snapshot=base -var with_pool=true

step "3. push a new image (snapshot patched), batches of 3"
apply -var snapshot=patched -var with_pool=true
img2=$("$cli" output -raw image_id)
[ "$img2" != "$img1" ] || fail "the image did not change"
pool_table -datastores "${ds[0]},${ds[1]}" -want-clones 8 -want-image "$img2"
[ "$(templates)" -eq 1 ] || fail "the old image's template VM was not removed"
echo "  image $img1 -> $img2; the old image and its internal VMs removed in the same apply"

step "4. attach ${ds[2]}: rebalance"
apply -var snapshot=patched -var with_pool=true -var attach_third=true
pool_table -datastores "${ds[0]},${ds[1]},${ds[2]}" -want-clones 8 -want-image "$img2"

step "5. tamper out of band: destroy desk-01, move desk-02 to ${ds[3]}"
"$bin/tamper" -destroy desk-01 -move desk-02 -to "${ds[3]}" || fail "tampering"
plan_exits 2 -var snapshot=patched -var with_pool=true -var attach_third=true
grep -oE '"[0-9]+ clone\(s\)[^"]*"' "$work/plan.log" | sort -u | tr -d '"' | sed 's/^/  drift: /'
grep -q 'desk-01' "$work/plan.log" && grep -q 'desk-02' "$work/plan.log" || fail "the plan does not name the tampered clones"

step "6. apply to repair"
apply -var snapshot=patched -var with_pool=true -var attach_third=true
pool_table -datastores "${ds[0]},${ds[1]},${ds[2]}" -want-clones 8 -want-image "$img2"
plan_exits 0 -var snapshot=patched -var with_pool=true -var attach_third=true

step "7. destroy"
"$cli" destroy -auto-approve -input=false -no-color -var snapshot=patched -var with_pool=true -var attach_third=true >"$work/destroy.log" 2>&1 ||
  { cat "$work/destroy.log"; fail "destroy"; }
grep 'Destroy complete' "$work/destroy.log" | sed 's/^/  /'
"$bin/inventory" -want-empty | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "something was left behind"

echo
echo "== demo done in ${SECONDS}s: every step held"
