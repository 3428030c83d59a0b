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
test_tsv=$("$nmt_python" -c "import sys; from nmt.tasks import load_config; t = load_config(sys.argv[1]).data.test; print(t.captions if t else '')" "$conf")

read_images() {  # read_images TSV NAME: the LaTeX of TSV's images into $exp/NAME.hyp (kept while newer than the model)
  local tsv=$1 name=$2
  if [ -s "$exp/$name.hyp" ] && [ "$exp/$name.hyp" -nt "$exp/checkpoints/best.pt" ]; then
    echo "$exp/$name.hyp is newer than the model: kept"; return 0
  fi
  cut -f1 "$tsv" | sed "s|^|$(dirname "$tsv")/|" | nmt-caption --model "$exp" --beam 5 > "$exp/$name.hyp.tmp" &&
    mv "$exp/$name.hyp.tmp" "$exp/$name.hyp"
}

read_tests() {
  [ -n "$test_tsv" ] || { echo "run.sh: $conf names no data.test captions" >&2; return 1; }
  read_images "$test_tsv" test && read_images data/test_style.tsv test_style
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
