#!/usr/bin/env bash
# Installs what Chat needs on a Debian/Ubuntu machine that has the .NET SDK, and nothing else it does not need:
# npm (the web client's libraries) and PostgreSQL and Redis from the distribution's packages, unless a container
# runtime answers (then the app host runs them as containers), plus the repository's local dotnet tools. Safe to run again: it only installs what is missing.
set -euo pipefail

log() { printf '\033[1;34m[chat]\033[0m %s\n' "$*" >&2; }

if ! command -v dotnet >/dev/null 2>&1; then
  log "The .NET SDK 10 is required: https://dot.net/download"; exit 1
fi

container_runtime_answers() {
  for rt in docker podman; do
    if command -v "$rt" >/dev/null 2>&1 && timeout 8 "$rt" info >/dev/null 2>&1; then return 0; fi
  done
  return 1
}

have_local_servers() {
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && command -v redis-server >/dev/null 2>&1
}

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else log "Run as root or install sudo to install: $*"; exit 1; fi
  fi
  log "Installing $* from the distribution's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${CHAT_INFRASTRUCTURE:-auto}" != "containers" ] && ! have_local_servers; then
  if [ "${CHAT_INFRASTRUCTURE:-auto}" = "auto" ] && container_runtime_answers; then
    log "A container runtime answers: PostgreSQL and Redis will run as containers."
  elif command -v apt-get >/dev/null 2>&1; then
    apt_install postgresql redis-server
  else
    log "Install PostgreSQL (15 or newer) and Redis (7 or newer), or start Docker/Podman."; exit 1
  fi
fi

# Building the gateway installs the web client's libraries with npm (Chat.Gateway/ClientApp/package-lock.json).
if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then apt_install nodejs npm; else log "Install Node.js 20+ and npm to build the web client."; exit 1; fi
fi

# The browser tests drive Debian's Chromium through Playwright (no browser download).
if [ "${1:-}" = "--tests" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then apt_install chromium; else log "Install Chromium at /usr/bin/chromium for the browser tests."; exit 1; fi
fi

# The services' own tools (dotnet-ef) are pinned in .config/dotnet-tools.json.
dotnet tool restore >/dev/null
