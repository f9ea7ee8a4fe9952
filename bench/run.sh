#!/usr/bin/env bash
# The one command of docs/BENCHMARKS.md: raises the open-file limit, builds the load tool and the baselines in
# Release, runs a named suite and prints the report (medians, ratios) of what it measured.
#
#   bench/run.sh SUITE
#
# Suites (see docs/BENCHMARKS.md for what each measures and how long it takes):
#   smoke        seconds-long runs of the baselines only; checks the tooling, measures nothing worth publishing
#   baselines    ws-step on the raw server (fed Chat's Redis writes, and PUBLISH only) and the SignalR peer (no Chat needed)
#   ws           ws-step on the raw server (both ways), the SignalR peer, Chat through the gateway and Chat on one replica
#                directly (the gateway's cost), same parameters, REPEAT times, alternating
#   latency      ws at RATE (half the raw server's max) on Chat and raw: the latency Chat adds
#   connections  SOCKETS (10000) sockets held on one chat-streaming replica (CHAT_STREAMING), plus raw and signalr
#   rest         Chat REST through the gateway and against chat-api, and the bare Kestrel + Npgsql baseline
#   openai       streamed /v1/chat/completions (1 and 16 clients) through the gateway and against chat-api
#   idle         RSS/CPU of every Chat process with no load
#   chat         ws, latency (when RATE is set), connections, rest, openai, idle
#
# Environment:
# Chat suites need Chat running in Release with raised gateway limits (docs/BENCHMARKS.md, "Starting Chat"):
#   dotnet run -c Release --project Chat.AppHost --launch-profile http -- --Parameters:jwt-signing-key=$CHAT_BENCH_SIGNING_KEY \
#     --Gateway:RateLimit:UserPermits=100000000 --Gateway:RateLimit:ConcurrentGenerationsPerUser=1000
#
#   CHAT_BENCH_SIGNING_KEY  the JWT key Chat was started with
#   CHAT_GATEWAY            the gateway (default http://localhost:5300)
#   CHAT_API                chat-api's own URL (dashboard → chat-api → endpoints); REST/OpenAI without the gateway
#   CHAT_STREAMING          where the connections suite holds its sockets (default http://replica: one chat-streaming
#                           replica directly, found by its process; give the gateway's URL to go through it)
#   REPEAT (2)  DURATION (15s)  WARMUP (3s)  STEPS (12)  STEP_FACTOR (1.6)  START_RATE (10)  RATE  SOCKETS (10000)
#   SHAPES                  the ws shapes to run (default all: "k1-64b k3-64b k100-64b k1-1k")
#   WS_TARGETS              the ws suite's targets (default "raw raw-publish signalr chat chat-direct"; raw-publish = the raw
#                           server fed one PUBLISH per frame and no replay stream)
#   PROVIDER_TTFT_MS        the local provider's configured time to first token (for the openai suite's overhead line)
#   OUT                     results directory (default bench/results/<suite>-<UTC time>)
#   LATENCY_URL             where the latency suite's Chat sockets go (default the gateway; http://replica: one replica)
#   PIN_CLIENT=1            ws, ws-step and latency runs with the load tool on CPU 1 and the fan-out servers (Redis, chat-streaming,
#                           RawWs, SignalRPeer) on CPU 0, so the client's receive work does not share the servers' core
#                           (docs/BENCHMARKS.md, "Method"); needs taskset (util-linux)
set -euo pipefail
script="$(readlink -f "$0")"
cd "$(dirname "$script")/.."

usage() { awk 'NR > 1 && /^set -euo/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$script"; }
suite="${1:-}"
case "$suite" in
  smoke|baselines|ws|latency|connections|rest|openai|idle|chat) ;;
  *) usage; exit 2 ;;
esac
shift || true

# 10,000+ sockets need as many descriptors in this process and in the servers it starts.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open-file limit: $(ulimit -n)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(( ${SOCKETS:-10000} * 2 + 1000 )) ]; then
  echo "warning: below 2 × SOCKETS + 1000; raise the hard limit (limits.conf, or prlimit as root) for the connections suite"
fi

REPEAT="${REPEAT:-2}"; DURATION="${DURATION:-15s}"; WARMUP="${WARMUP:-3s}"
STEPS="${STEPS:-12}"; STEP_FACTOR="${STEP_FACTOR:-1.6}"; START_RATE="${START_RATE:-10}"; SOCKETS="${SOCKETS:-10000}"
CHAT_GATEWAY="${CHAT_GATEWAY:-http://localhost:5300}"
OUT="${OUT:-bench/results/$suite-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$OUT"

echo "building Release (load tool and baselines)…"
dotnet build bench/Chat.Bench -c Release -nologo -v quiet -clp:ErrorsOnly   # builds the baseline servers too
BENCH=(dotnet bench/Chat.Bench/bin/Release/net10.0/Chat.Bench.dll)
bench() { "${BENCH[@]}" "$@" --out "$OUT"; }
need_chat() {
  [ -n "${CHAT_BENCH_SIGNING_KEY:-}" ] || { echo "CHAT_BENCH_SIGNING_KEY is not set (the key ./run.sh was started with)"; exit 2; }
  curl -fsS "$CHAT_GATEWAY/api/health" >/dev/null || { echo "Chat does not answer at $CHAT_GATEWAY: start it with ./run.sh"; exit 2; }
}

# label sockets per-conversation chunk-bytes
WS_SHAPES=("k1-64b 1000 1 64" "k3-64b 999 3 64" "k100-64b 1000 100 64" "k1-1k 1000 1 1024")
if [ -n "${SHAPES:-}" ]; then # e.g. SHAPES="k1-64b k1-1k": only those shapes
  selected=(); for shape in "${WS_SHAPES[@]}"; do [[ " $SHAPES " == *" ${shape%% *} "* ]] && selected+=("$shape"); done
  WS_SHAPES=("${selected[@]}")
fi

step_run() { # target label sockets k bytes   (target chat = through the gateway, chat-direct = one replica)
  local target="$1" url=()
  if [ "$target" = chat ]; then url=(--url "$CHAT_GATEWAY"); fi
  if [ "$target" = chat-direct ]; then target=chat; url=(--url http://replica --api-url "$CHAT_GATEWAY"); fi
  if [ "$target" = raw-publish ]; then target=raw; url=(--redis-writes publish); fi
  load ws-step --target "$target" "${url[@]}" ${BASELINE_REDIS:+--redis "$BASELINE_REDIS"} --label "$2$PINNED" --sockets "$3" --per-conversation "$4" --chunk-bytes "$5" \
    --start-rate "$START_RATE" --step-factor "$STEP_FACTOR" --max-steps "$STEPS" --duration "$DURATION" --warmup "$WARMUP" || true
}

# Runs the load tool; with PIN_CLIENT=1 on CPU 1, while the fan-out servers are kept on CPU 0. The baselines start as
# children of the load tool (so on CPU 1): the pinner moves them within 0.2 s.
PINNED=""; [ "${PIN_CLIENT:-0}" = 1 ] && PINNED="-pinned"
load() {
  if [ "${PIN_CLIENT:-0}" != 1 ]; then bench "$@"; return; fi
  ( while true; do pin_servers; sleep 0.2; done ) &
  local pinner=$! rc=0
  pin_servers
  taskset -c 1 "${BENCH[@]}" "$@" --out "$OUT" || rc=$?
  kill "$pinner"; wait "$pinner" 2>/dev/null || true
  return "$rc"
}

pin_servers() { # every thread of the fan-out servers onto CPU 0
  local p
  for p in $(pgrep -f "redis-server 127|Chat.Streaming/bin/|/RawWs|/SignalRPeer" || true); do taskset -a -p -c 0 "$p" >/dev/null 2>&1 || true; done
}

run_smoke() {
  bench ws --target raw --label smoke --sockets 20 --per-conversation 2 --rate 5 --duration 4s --warmup 1s --settle 0.5s
  bench ws --target signalr --label smoke --sockets 20 --per-conversation 2 --rate 5 --duration 4s --warmup 1s --settle 0.5s
  bench ws-step --target raw --label smoke-step --sockets 10 --per-conversation 1 --rates 2,4 --duration 3s --warmup 1s --settle 0.5s
  bench rest --target baseline --label smoke --concurrency 4 --duration 3s --warmup 1s --rows 1000
}

run_baselines() {
  for rep in $(seq "$REPEAT"); do
    for shape in "${WS_SHAPES[@]}"; do
      read -r label n k bytes <<<"$shape"
      for target in raw raw-publish signalr; do step_run "$target" "$label" "$n" "$k" "$bytes"; done
    done
  done
}

run_ws() {
  need_chat
  # With Chat up, the baselines use Chat's own Redis too: one Redis for every target of the run.
  BASELINE_REDIS=chat
  for rep in $(seq "$REPEAT"); do
    for shape in "${WS_SHAPES[@]}"; do
      read -r label n k bytes <<<"$shape"
      for target in ${WS_TARGETS:-raw raw-publish signalr chat chat-direct}; do step_run "$target" "$label" "$n" "$k" "$bytes"; done
    done
  done
}

run_latency() {
  need_chat
  [ -n "${RATE:-}" ] || { echo "latency: set RATE to half the raw server's last held gen/s (from the ws suite)"; exit 2; }
  for rep in $(seq "$REPEAT"); do
    load ws --target raw --redis chat --label "half-rate$PINNED" --sockets 1000 --per-conversation 1 --rate "$RATE" --duration 30s --warmup 5s || true
    load ws --target chat --url "${LATENCY_URL:-$CHAT_GATEWAY}" --label "half-rate$PINNED" --sockets 1000 --per-conversation 1 --rate "$RATE" --duration 30s --warmup 5s || true
  done
}

run_connections() {
  need_chat
  local streaming="${CHAT_STREAMING:-http://replica}"
  for rep in $(seq "$REPEAT"); do
    for target in raw signalr chat; do
      local url=()
      if [ "$target" = chat ]; then url=(--url "$streaming" --api-url "$CHAT_GATEWAY"); fi
      bench ws --target "$target" "${url[@]}" --redis chat --label "held-$SOCKETS" --sockets "$SOCKETS" --per-conversation 1 \
        --rate 50 --duration 60s --warmup 10s --connect-parallelism 64 || true
    done
  done
}

run_rest() {
  need_chat
  for rep in $(seq "$REPEAT"); do
    # The floor runs on the same PostgreSQL server as Chat (database 'postgres', table bench_items).
    bench rest --target baseline --postgres chat --label c64 --concurrency 64 || true
    bench rest --target chat --url "$CHAT_GATEWAY" --label c64 --concurrency 64 || true
    if [ -n "${CHAT_API:-}" ]; then bench rest --target chat --url "$CHAT_API" --label c64 --concurrency 64 || true; fi
  done
}

run_openai() {
  need_chat
  local ttft=()
  if [ -n "${PROVIDER_TTFT_MS:-}" ]; then ttft=(--provider-ttft-ms "$PROVIDER_TTFT_MS"); fi
  for rep in $(seq "$REPEAT"); do
    # One client: the latency floor (the first-chunk target); 16: throughput and first chunk under load.
    bench openai --url "$CHAT_GATEWAY" --label c1 --concurrency 1 --duration 15s --warmup 2s "${ttft[@]}" || true
    if [ -n "${CHAT_API:-}" ]; then bench openai --url "$CHAT_API" --label c1 --concurrency 1 --duration 15s --warmup 2s "${ttft[@]}" || true; fi
    bench openai --url "$CHAT_GATEWAY" --label c16 --concurrency 16 "${ttft[@]}" || true
    if [ -n "${CHAT_API:-}" ]; then bench openai --url "$CHAT_API" --label c16 --concurrency 16 "${ttft[@]}" || true; fi
  done
}

run_idle() { dotnet bench/Chat.Bench/bin/Release/net10.0/Chat.Bench.dll idle --duration 10s | tee "$OUT/idle.md"; }

case "$suite" in
  smoke) run_smoke ;;
  baselines) run_baselines ;;
  ws) run_ws ;;
  latency) run_latency ;;
  connections) run_connections ;;
  rest) run_rest ;;
  openai) run_openai ;;
  idle) run_idle ;;
  chat)
    run_ws
    if [ -n "${RATE:-}" ]; then run_latency; fi
    run_connections; run_rest; run_openai; run_idle ;;
esac

echo
echo "report of $OUT:"
dotnet bench/Chat.Bench/bin/Release/net10.0/Chat.Bench.dll report --in "$OUT" | tee "$OUT/REPORT.md"
