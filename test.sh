#!/usr/bin/env bash
# Quick start 2/2: installs what is missing, builds, and runs the whole test suite against real PostgreSQL and
# Redis started by the app host (throw-away data). Ends with one 'N passed, N failed' line; exits non-zero on any failure.
# Extra arguments go to 'dotnet test' (e.g. ./test.sh --filter FullyQualifiedName~Gateway).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/prerequisites.sh --tests

results="$(pwd)/TestResults"
rm -rf "$results"
dotnet build Chat.sln -c Release -nologo -clp:ErrorsOnly

status=0
dotnet test Chat.sln -c Release --no-build -nologo \
  --results-directory "$results" --logger "trx" --logger "console;verbosity=normal" \
  --blame-hang-timeout 10m "$@" || status=$?

bash scripts/summarize-tests.sh "$results" || status=1

# Nothing the tests started may outlive them (servers are stopped by the orchestrator on dispose).
sleep 2
leftover=$(pgrep -af '(/tmp/chat-[0-9a-f]{32}|dcp (start-apiserver|run-controllers))' | grep -v pgrep || true)
if [ -n "$leftover" ]; then
  echo "Processes left running after the tests:" >&2; echo "$leftover" >&2
  status=1
fi
exit $status
