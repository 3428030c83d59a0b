#!/usr/bin/env bash
# Smoke recipe: a synthetic sequence-reversal corpus, trained, translated and scored in under a minute.
#   0 data   1 train (nmt-train prepares the data first)   2 translate the test set   3 score
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=3 conf=conf/rnnsearch.yaml
length_edges=6,9  # symbols: 3 to 12 a sequence
source ../lib/stages.sh

run_stage 0 data python3 local/make_data.py data
run_stage 1 train train_model
run_stage 2 translate translate_test data/test.src --beam 5
run_stage 3 score score_test data/test.tgt data/test.src
exit
}
