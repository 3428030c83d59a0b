#!/usr/bin/env bash
# IWSLT 2014 German->English TED talks (160k training pairs) from the Hugging Face hub, in stages:
#   0 data: the hub dataset -> data/{train,dev,test}.{de,en}  (../lib/hf_data.py; needs the network)
#   1 prepare  2 train  3 translate the test set (beam 5)  4 score   (as recipes/ding-de-en)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
# HF_DATASET=/path/to/folder reads a local copy in the hub's layout instead of the hub.
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
source ../lib/stages.sh

run_stage 0 data python3 ../lib/hf_data.py "${HF_DATASET:-bbaaaa/iwslt14-de-en}" --config de-en --src de --tgt en --out data
model_stages de en  # 1 prepare, 2 train, 3 translate (beam 5), 4 score
exit
}
