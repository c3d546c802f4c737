#!/usr/bin/env bash
# Passes `go test -v` output through, then prints one line counting the acceptance tests
# passed, failed and skipped on the named CLI. Fails when go test failed or none passed.
set -uo pipefail
cli=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tee "$out"
pass=$(grep -c -- '^--- PASS: TestAcc' "$out")
fail=$(grep -c -- '--- FAIL: ' "$out")
skip=$(grep -c -- '^--- SKIP: TestAcc' "$out")
echo "$cli: $pass passed, $fail failed, $skip skipped"
grep -q '^ok ' "$out" && [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
