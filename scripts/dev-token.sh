#!/usr/bin/env bash
# Mints a development JWT for curl and the web client, through the gateway, and prints it on stdout.
# Works only while the app runs in Development (the endpoint does not exist anywhere else: 404).
#
#   scripts/dev-token.sh [--user U] [--tenant T] [--scopes "chat.read chat.write"] [--minutes N] [--url http://localhost:5300]
#
# Example:
#   TOKEN=$(scripts/dev-token.sh)
#   curl -H "Authorization: Bearer $TOKEN" http://localhost:5300/api/v1/conversations
set -euo pipefail

user="dev-user"
tenant="dev-tenant"
scopes="chat.read chat.write"
minutes=60
url="${CHAT_URL:-http://localhost:5300}"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="$2"; shift 2 ;;
    --tenant) tenant="$2"; shift 2 ;;
    --scopes) scopes="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "Unknown argument: $1" >&2; usage ;;
  esac
done

json_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
body=$(printf '{"userId":"%s","tenantId":"%s","scopes":"%s","lifetimeMinutes":%d}' \
  "$(json_escape "$user")" "$(json_escape "$tenant")" "$(json_escape "$scopes")" "$minutes")

response=$(curl -sS -w '\n%{http_code}' -X POST "${url%/}/api/v1/dev/token" -H 'Content-Type: application/json' -d "$body") || {
  echo "Could not reach $url: is the app running (./run.sh)?" >&2; exit 1; }
status="${response##*$'\n'}"
payload="${response%$'\n'*}"

if [ "$status" != "200" ]; then
  if [ "$status" = "404" ]; then
    echo "No dev token endpoint at $url (HTTP 404): it exists only when the API runs in Development." >&2
  else
    echo "Minting failed (HTTP $status): $payload" >&2
  fi
  exit 1
fi

# The token is the only string value that starts with "ey" (a JWT header), so no JSON tool is needed.
token=$(printf '%s' "$payload" | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "Unexpected response: $payload" >&2; exit 1; }
printf '%s\n' "$token"
