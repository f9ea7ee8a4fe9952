#!/usr/bin/env bash
# Quick start 1/2: installs what is missing, then runs Chat under the Aspire app host.
# The dashboard URL (with its login token) and the gateway URL are printed once everything is up.
# Pass app-host settings through, e.g. ./run.sh --Infrastructure:Mode=containers
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/prerequisites.sh
exec dotnet run --project Chat.AppHost --launch-profile http -- "$@"
