#!/usr/bin/env bash
# Image to LaTeX (Deng et al. 2017): a formula's picture to its normalised LaTeX tokens.
#   0 data   1 prepare   2 train   3 read the test images, and the same formulas in the held-out font (beam 5)
#   4 score (exact match and BLEU, by formula length) into exp/<conf>/results.json: test, test_style
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
source ../lib/stages.sh
nmt_python="$(dirname "$(command -v nmt-train)")/python"  # the interpreter the nmt commands run in
test_tsv=$(config_test_captions)

read_tests() {
  caption_images "$test_tsv" test && caption_images data/test_style.tsv test_style
}

score_tests() {
  "$nmt_python" local/score_formulas.py "$exp" "$test_tsv" test &&
    "$nmt_python" local/score_formulas.py "$exp" data/test_style.tsv test_style
}

run_stage 0 data local/data.sh data
run_stage 1 prepare nmt-prepare --config "$conf" --set exp_dir="$exp"
run_stage 2 train train_model
run_stage 3 read read_tests
run_stage 4 score score_tests
exit
}
