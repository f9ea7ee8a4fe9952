#!/usr/bin/env bash
# A/B of the send path and the REST page between builds (docs/BENCHMARKS.md, "Comparing two builds"): starts Chat in
# Release from the checkout TREE (already built: dotnet build Chat.sln -c Release), runs the short suites into OUT and
# stops Chat. Alternate the builds, one call per run, e.g. with the build before in a worktree:
#   for i in 1 2; do bench/ab.sh ../before bench/results/ab/before-$i; bench/ab.sh . bench/results/ab/after-$i; done
#   dotnet bench/Chat.Bench/bin/Release/net10.0/Chat.Bench.dll report --in bench/results/ab
# Measures (after a 15 s unrecorded warm-up): ws-step at 1,000 sockets, one per conversation, 64 B chunks, on one chat-streaming replica (chunks/s at the
# last step held); 10,000 sockets held on one replica (KiB per connection); the history page straight to chat-api and
# the page floor on the same PostgreSQL (pages/s).
# Environment: SUITES (default "ws connections rest": which of the three to run); START_RATE (200), STEP_FACTOR (1.15),
# STEPS (12): the ws-step ladder — a finer one around the threshold (e.g. 430, 1.04, 10) settles a few-percent question
# the default 15 % steps cannot.
set -uo pipefail
SUITES="${SUITES:-ws connections rest}"; START_RATE="${START_RATE:-200}"; STEP_FACTOR="${STEP_FACTOR:-1.15}"; STEPS="${STEPS:-12}"
mkdir -p "${2:?usage: bench/ab.sh TREE OUT}"
tree="$(readlink -f "$1")"; out="$(readlink -f "$2")"
export CHAT_BENCH_SIGNING_KEY=${CHAT_BENCH_SIGNING_KEY:-$(openssl rand -hex 32)}
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cd "$tree"
log="$out/apphost.log"
dotnet run -c Release --no-build --project Chat.AppHost --launch-profile http -- \
  --Parameters:jwt-signing-key="$CHAT_BENCH_SIGNING_KEY" \
  --Gateway:RateLimit:UserPermits=100000000 --Gateway:RateLimit:ConcurrentGenerationsPerUser=1000 \
  --Llm:Local:TimeToFirstTokenMs=0 --Llm:Local:TokensPerSecond=1000 --no-dashboard > "$log" 2>&1 &
host=$!
# SIGTERM to the app host itself (a background job ignores SIGINT): it stops its services, Redis and PostgreSQL.
# The orchestrator stops the services after the app host exits; one it missed would be measured by the next run.
services="$tree/Chat\.(Api|Streaming|Gateway|MigrationService)/"
stop() {
  pkill -TERM -f "^$tree/Chat.AppHost/bin/Release/net10.0/Chat.AppHost" 2>/dev/null; wait "$host" 2>/dev/null
  for _ in $(seq 30); do pgrep -f "$services" > /dev/null || return 0; sleep 1; done
  pkill -KILL -f "$services"
}
trap stop EXIT
for _ in $(seq 240); do grep -q "Chat is ready" "$log" && break; sleep 1; done
grep -q "Chat is ready" "$log" || { echo "Chat did not start (see $log)"; exit 1; }
api=$(grep -o "chat-api itself: http://[^)]*" "$log" | head -1 | sed 's/chat-api itself: //')
echo "$(date -u +%H:%M:%S) $tree ($(git rev-parse --short HEAD)), chat-api at $api" | tee -a "$out/ab.txt"
bench=(dotnet "$tree/bench/Chat.Bench/bin/Release/net10.0/Chat.Bench.dll")
# Warm-up, not recorded: without it the first step also measures JIT tiering (p99 45–73 ms at a rate the next steps
# hold at 7–15 ms).
"${bench[@]}" ws --target chat --url http://replica --redis chat --label warm-up --sockets 1000 --per-conversation 1 \
  --chunk-bytes 64 --rate 200 --duration 15s --warmup 2s --out "$out/warm-up" > "$out/warm-up.txt" 2>&1
if [[ " $SUITES " == *" ws "* ]]; then
  "${bench[@]}" ws-step --target chat --url http://replica --redis chat --label k1-64b --sockets 1000 --per-conversation 1 \
    --chunk-bytes 64 --start-rate "$START_RATE" --step-factor "$STEP_FACTOR" --max-steps "$STEPS" --duration 8s --warmup 2s \
    --out "$out" >> "$out/ab.txt" 2>&1
fi
if [[ " $SUITES " == *" connections "* ]]; then
  "${bench[@]}" ws --target chat --url http://replica --redis chat --label held-10000 --sockets 10000 --per-conversation 1 \
    --rate 50 --duration 30s --warmup 10s --connect-parallelism 64 --out "$out" >> "$out/ab.txt" 2>&1
fi
if [[ " $SUITES " == *" rest "* ]]; then
  "${bench[@]}" rest --target chat --url "$api" --label c64 --concurrency 64 --ops history --duration 15s --out "$out" >> "$out/ab.txt" 2>&1
  "${bench[@]}" rest --target baseline --postgres chat --label c64 --concurrency 64 --ops page --duration 15s --out "$out" >> "$out/ab.txt" 2>&1
fi
