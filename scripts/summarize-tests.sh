#!/usr/bin/env bash
# Prints 'N passed, N failed, N skipped' from the TRX files in a results folder; fails when nothing ran.
set -euo pipefail
dir="$1"
passed=0; failed=0; total=0; executed=0
shopt -s nullglob
for trx in "$dir"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9][0-9]*' || echo 0; }
  total=$((total + $(get total))); executed=$((executed + $(get executed))); passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
done
skipped=$((total - executed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$executed" -eq 0 ]; then echo "No test ran." >&2; exit 1; fi
[ "$failed" -eq 0 ]
