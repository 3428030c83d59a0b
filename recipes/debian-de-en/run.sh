#!/usr/bin/env bash
# Debian German->English (~100k pairs from Debian bookworm), in stages (Kaldi/ESPnet style):
#   0 data: Ding sentences, LibreOffice help and UI, package descriptions   (local/data.sh); for a
#     config that trains on back-translations (data/mono.bt*.de) also the untranslated package
#     descriptions (local/monolingual.sh), the reverse model and its translation of them
#   1 prepare: clean, train SentencePiece (joint unigram 16k), cache arrays  (nmt-prepare)
#   2 train                                                                  (nmt-train)
#   3 translate the test set with beam 5                                     (nmt-translate)
#   4 score with sacreBLEU (also by source length and by origin) into exp/<variant>/results.json
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
length_edges=10,20,30,40,50  # source words, as Bahdanau et al. 2014, Fig. 2
test_groups=data/test.origin  # the corpus each test pair came from: scores by origin too
source ../lib/stages.sh

run_stage 0 data local/data.sh data
if grep -q "data/mono\.bt" "$conf"; then  # a config that trains on back-translations makes them first
  source ../lib/backtranslation.sh
  run_stage 0 back-translation back_translation de en conf/rnnsearch_reverse.yaml
fi
model_stages de en  # 1 prepare, 2 train, 3 translate (beam 5), 4 score
exit
}
