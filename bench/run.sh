#!/usr/bin/env bash
# Runs a benchmark and writes bench/results/<name>.md.
#   bench/run.sh api [--seconds 10] [--connections 16] [--latency-requests 100000] [--latency-percent 50]
#   bench/run.sh processor [--events 5000]
#   bench/run.sh aggregator [--max-events 10000000]   (root: it uses cgroups)
#   bench/run.sh query [--events 1000000]            (root: it uses cgroups)
#   bench/run.sh readers [--events 1000000]
#   bench/run.sh coldstart [--runs 5] [--only ApiFunction]  (root: it uses cgroups; --only prints one function's row)
#   bench/run.sh import [--format events|csv|segment] [--rows 1000000] [--rate 20] [--memory MB] [--import-write-rate N]
#                                                   (root: it uses cgroups; csv and segment write bench/results/import-csv.md,
#                                                    import-segment.md; --import-write-rate: the stack's ImportWriteRate)
#   bench/run.sh faults [--seconds 90] [--rate 40]
#   bench/run.sh cost [--events 2000]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "Installing wrk (the HTTP load client) with apt..."
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi
exec dotnet run -c Release --project bench/Pipeline.Bench -- "$@"
