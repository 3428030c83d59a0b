#!/usr/bin/env bash
# IWSLT 2014 German->English TED talks (160k training pairs) from the Hugging Face hub, in stages:
#   0 data: the hub dataset -> data/{train,dev,test}.{de,en}  (../lib/hf_data.py; needs the network)
#   1 prepare  2 train  3 translate the test set (beam 5)  4 score   (as recipes/ding-de-en)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
# HF_DATASET=/path/to/folder reads a local copy in the hub's layout instead of the hub.
set -euo pipefail
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
source ../lib/stages.sh

run_stage 0 data python3 ../lib/hf_data.py "${HF_DATASET:-bbaaaa/iwslt14-de-en}" --config de-en --src de --tgt en --out data
run_stage 1 prepare nmt-prepare --config "$conf" --set exp_dir="$exp"
run_stage 2 train train_model
run_stage 3 translate translate_test data/test.de --beam 5
run_stage 4 score score_test data/test.en data/test.de
