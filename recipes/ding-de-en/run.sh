#!/usr/bin/env bash
# Ding German->English recipe, in stages (Kaldi/ESPnet style):
#   0 data: extract the corpus from Debian's trans-de-en     (local/data.sh)
#   1 prepare: clean, train SentencePiece, cache token arrays  (nmt-prepare)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=1
conf=conf/rnnsearch.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --conf) conf=$2; shift 2 ;;
    *) echo "run.sh: unknown option '$1' (expected --stage, --stop-stage, --conf)" >&2; exit 2 ;;
  esac
done

run_stage() {  # run_stage N NAME COMMAND...: runs when N is in [stage, stop_stage]
  local number=$1 name=$2; shift 2
  [ "$number" -ge "$stage" ] && [ "$number" -le "$stop_stage" ] || return 0
  echo "== stage $number: $name"
  "$@" || { echo "run.sh: stage $number ($name) failed" >&2; exit 1; }
}

run_stage 0 data local/data.sh data
run_stage 1 prepare nmt-prepare --config "$conf"
