# Sourced by a captioning recipe's ablation.sh, from its directory, after it sets `variants` (its default
# configs): reads --variants "NAME ...", runs run.sh over each conf/NAME.yaml (finished stages are
# kept), and leaves the experiment directories in `runs` and the interpreter in `nmt_python`.
[ "${1:-}" = "--variants" ] && { variants=$2; shift 2; }
[ $# -eq 0 ] || { echo "ablation.sh: unknown option '$1' (expected --variants \"NAME ...\")" >&2; exit 2; }
source ../lib/path.sh
nmt_python="$(dirname "$(command -v nmt-train)")/python"
runs=()
for variant in $variants; do
  [ -f "conf/$variant.yaml" ] || { echo "ablation.sh: no config conf/$variant.yaml" >&2; exit 2; }
  echo "=== ablation: $variant ($(date '+%H:%M:%S'))"
  bash run.sh --conf "conf/$variant.yaml" || { echo "ablation.sh: $variant failed" >&2; exit 1; }
  runs+=("exp/$variant")
done

attention_pictures() {  # attention_pictures IMAGE...: each run's captions and attention for them, exp/ablation/RUN.png
  local run
  for run in "${runs[@]}"; do
    "$nmt_python" ../../tools/caption_figure.py --model "$run" --out "exp/ablation/$(basename "$run").png" "$@"
  done
}
