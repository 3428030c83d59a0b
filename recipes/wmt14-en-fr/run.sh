#!/usr/bin/env bash
# WMT 2014 English->French (Bahdanau et al. 2014's task) from the Hugging Face hub, in stages:
#   0 data: the hub dataset -> data/{train,dev,test}.{en,fr}  (../lib/hf_data.py; needs the network)
#           keeps the first 2M of the 40M training pairs: what a single GPU trains in a day
#   1 prepare  2 train  3 translate newstest2014 (beam 5)  4 score   (as recipes/ding-de-en)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
# HF_DATASET=/path/to/folder reads a local copy in the hub's layout instead of the hub;
# MAX_TRAIN_PAIRS=N changes the 2M cap (0: all).
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
source ../lib/stages.sh

max_pairs=()
[ "${MAX_TRAIN_PAIRS:-2000000}" != 0 ] && max_pairs=(--max-train-pairs "${MAX_TRAIN_PAIRS:-2000000}")
run_stage 0 data python3 ../lib/hf_data.py "${HF_DATASET:-wmt/wmt14}" --config fr-en --src en --tgt fr --out data "${max_pairs[@]}"
model_stages en fr  # 1 prepare, 2 train, 3 translate (beam 5), 4 score
exit
}
