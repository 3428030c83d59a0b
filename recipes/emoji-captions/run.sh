#!/usr/bin/env bash
# Emoji captioning: an image of an emoji to its Unicode name, in English or German.
#   0 data   1 prepare   2 train   3 caption the config's test images (beam 5)   4 score (BLEU, chrF, exact match)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch_en.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch_en.yaml
source ../lib/stages.sh
nmt_python="$(dirname "$(command -v nmt-train)")/python"  # the interpreter the nmt commands run in
test_tsv=$(config_test_captions)

score_captions() {  # BLEU, chrF and exact match of $exp/test.hyp into $exp/results.json
  "$nmt_python" local/score_captions.py "$exp" "$test_tsv"
}

run_stage 0 data local/data.sh data
run_stage 1 prepare nmt-prepare --config "$conf" --set exp_dir="$exp"
run_stage 2 train train_model
run_stage 3 caption caption_images "$test_tsv" test
run_stage 4 score score_captions
exit
}
