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
test_tsv=$("$nmt_python" -c "import sys; from nmt.tasks import load_config; t = load_config(sys.argv[1]).data.test; print(t.captions if t else '')" "$conf")

caption_test() {  # the test images' captions into $exp/test.hyp (kept while newer than the model)
  [ -n "$test_tsv" ] || { echo "run.sh: $conf names no data.test captions" >&2; return 1; }
  if [ -s "$exp/test.hyp" ] && [ "$exp/test.hyp" -nt "$exp/checkpoints/best.pt" ]; then
    echo "$exp/test.hyp is newer than the model: kept"; return 0
  fi
  cut -f1 "$test_tsv" | sed "s|^|$(dirname "$test_tsv")/|" | nmt-caption --model "$exp" --beam 5 > "$exp/test.hyp.tmp" &&
    mv "$exp/test.hyp.tmp" "$exp/test.hyp"
}

score_captions() {  # BLEU, chrF and exact match of $exp/test.hyp into $exp/results.json
  "$nmt_python" local/score_captions.py "$exp" "$test_tsv"
}

run_stage 0 data local/data.sh data
run_stage 1 prepare nmt-prepare --config "$conf" --set exp_dir="$exp"
run_stage 2 train train_model
run_stage 3 caption caption_test
run_stage 4 score score_captions
exit
}
