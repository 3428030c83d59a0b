# Shared by the recipes' run.sh: stage selection (Kaldi/ESPnet style) and the common stages.
# A recipe sets `stage`, `stop_stage` and `conf` defaults, sources this file with its
# arguments, and calls run_stage for each of its stages.

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --conf) conf=$2; shift 2 ;;
    --init-from) init_from=$2; shift 2 ;;
    --nproc) nproc=$2; shift 2 ;;
    *) echo "run.sh: unknown option '$1' (expected --stage N, --stop-stage M, --conf FILE, --init-from EXP_DIR, --nproc N)" >&2; exit 2 ;;
  esac
done
[ -f "$conf" ] || { echo "run.sh: no config file '$conf'" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/path.sh"
source "$(dirname "${BASH_SOURCE[0]}")/score.sh"
variant=$(basename "$conf" .yaml)
exp=exp/$variant

run_stage() {  # run_stage N NAME COMMAND...: runs when stage <= N <= stop_stage; a failure stops the script
  local number=$1 name=$2; shift 2
  [ "$number" -ge "$stage" ] && [ "$number" -le "$stop_stage" ] || return 0
  echo "== stage $number: $name ($variant)"
  "$@" || { echo "run.sh: stage $number ($name) failed" >&2; exit 1; }
}

train_model() {  # trains, or continues a run that was stopped; skips a finished one
  if [ -f "$exp/results.json" ] && grep -q '"train"' "$exp/results.json"; then
    echo "$exp is trained already (remove it to train again)"; return 0
  fi
  local options=()
  [ -f "$exp/checkpoints/last.pt" ] && options=(--resume)
  [ -n "${init_from:-}" ] && options+=(--init-from "$init_from")
  [ -n "${nproc:-}" ] && options+=(--nproc "$nproc")  # data-parallel processes on this machine (torchrun)
  nmt-train --config "$conf" --set exp_dir="$exp" "${options[@]}"
}

translate_test() {  # translate_test SRC_FILE [nmt-translate options]
  local src=$1; shift
  if [ -s "$exp/test.hyp" ] && [ "$exp/test.hyp" -nt "$exp/checkpoints/best.pt" ]; then
    echo "$exp/test.hyp is newer than the model: kept"; return 0
  fi
  nmt-translate --model "$exp" "$@" -i "$src" -o "$exp/test.hyp.tmp" && mv "$exp/test.hyp.tmp" "$exp/test.hyp"
}

score_test() {  # score_test REF_FILE SRC_FILE: test scores (and BLEU by source length) into results.json
  score_into "$exp" "$1" "$2"
}

model_stages() {  # model_stages SRC TGT: stages 1-4 of a recipe whose stage 0 wrote data/{train,dev,test}.{SRC,TGT}
  # With --init-from, nmt-train prepares the data itself (with the trained model's SentencePiece model).
  [ -n "${init_from:-}" ] || run_stage 1 prepare nmt-prepare --config "$conf" --set exp_dir="$exp"
  run_stage 2 train train_model
  run_stage 3 translate translate_test "data/test.$1" --beam 5
  run_stage 4 score score_test "data/test.$2" "data/test.$1"
}

config_test_captions() {  # the captions file (image TAB caption) of the config's data.test; empty if none
  "$(dirname "$(command -v nmt-train)")/python" -c \
    "import sys; from nmt.tasks import load_config; t = load_config(sys.argv[1]).data.test; print(t.captions if t else '')" "$conf"
}

caption_images() {  # caption_images TSV NAME: captions of TSV's images (beam 5) into $exp/NAME.hyp, kept while newer than the model
  local tsv=$1 name=$2
  [ -n "$tsv" ] || { echo "run.sh: $conf names no data.test captions" >&2; return 1; }
  if [ -s "$exp/$name.hyp" ] && [ "$exp/$name.hyp" -nt "$exp/checkpoints/best.pt" ]; then
    echo "$exp/$name.hyp is newer than the model: kept"; return 0
  fi
  cut -f1 "$tsv" | sed "s|^|$(dirname "$tsv")/|" | nmt-caption --model "$exp" --beam 5 > "$exp/$name.hyp.tmp" &&
    mv "$exp/$name.hyp.tmp" "$exp/$name.hyp"
}
