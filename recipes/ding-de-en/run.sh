#!/usr/bin/env bash
# Ding German->English, in stages (Kaldi/ESPnet style):
#   0 data: extract the corpus from Debian's trans-de-en   (local/data.sh; with data/lexicon.* in
#     the config also the dictionary's entries, local/extract_lexicon.py); for a config that
#     trains on back-translations (data/mono.bt*.de) also the English of WordNet's examples
#     (local/monolingual.sh), the reverse model (two for data/mono.bt-ensemble.de) and its translation
#     of them (../lib/backtranslation.sh); for a config that copies the English as its own source
#     (data/mono.en on both sides) the English alone
#   1 prepare: clean, train SentencePiece, cache arrays     (nmt-prepare)
#   2 train                                                 (nmt-train)
#   3 translate the test set with beam 5                    (nmt-translate)
#   4 score with sacreBLEU into exp/<variant>/results.json   (nmt-score)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/rnnsearch.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=4 conf=conf/rnnsearch.yaml
length_edges=5,10,15,20  # source words: Ding sentences are short (median 7)
source ../lib/stages.sh

if grep -q "data/lexicon\." "$conf"; then  # a config that trains on the dictionary's entries makes them too
  run_stage 0 data local/data.sh data lexicon
else
  run_stage 0 data local/data.sh data
fi
if grep -q "data/mono\.bt" "$conf"; then  # a config that trains on back-translations makes them first
  source ../lib/backtranslation.sh
  run_stage 0 back-translation back_translation de en conf/rnnsearch_reverse.yaml conf/rnnsearch_reverse_seed2.yaml
elif grep -q "data/mono\.en" "$conf"; then  # copied English as its own source (Currey et al. 2017): no reverse model
  run_stage 0 monolingual local/monolingual.sh data
fi
model_stages de en  # 1 prepare, 2 train, 3 translate (beam 5), 4 score
exit
}
