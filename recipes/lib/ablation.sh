# Shared by the recipes' ablation.sh: trains each variant through run.sh (so every run gets the
# same data, budget and seed from the recipe's base config), then compares them with
# tools/compare_runs.py into exp/ablation (or exp/NAME with --out NAME). A recipe sets
# `variants`, and for ensembles of its runs (A+B decodes with A and B together) `ensembles`,
# `test_src` and `test_ref`; then it sources this file.

ensembles=${ensembles:-} out=ablation
while [ $# -gt 0 ]; do
  case "$1" in
    --variants) variants=$2; shift 2 ;;
    --ensembles) ensembles=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "ablation.sh: unknown option '$1' (expected --variants \"NAME ...\", --ensembles \"A+B ...\" or --out NAME)" >&2; exit 2 ;;
  esac
done
for variant in $variants; do
  [ -f "conf/$variant.yaml" ] || { echo "ablation.sh: no config conf/$variant.yaml" >&2; exit 2; }
done
kept=""
for ensemble in $ensembles; do  # an ensemble of variants this ablation does not train is left out
  missing=""
  for member in ${ensemble//+/ }; do
    [[ " $variants " == *" $member "* ]] || missing="$missing $member"
  done
  if [ -n "$missing" ]; then echo "ablation.sh: ensemble $ensemble left out:$missing not among the variants" >&2
  else kept="$kept $ensemble"; fi
done
ensembles=$kept
source "$(dirname "${BASH_SOURCE[0]}")/path.sh"
source "$(dirname "${BASH_SOURCE[0]}")/score.sh"

runs=()
started=$(date +%s)
for variant in $variants; do
  echo "=== ablation: $variant ($(date '+%H:%M:%S'))"
  bash run.sh --conf "conf/$variant.yaml" || { echo "ablation.sh: variant $variant failed" >&2; exit 1; }
  runs+=("exp/$variant")
done
for ensemble in $ensembles; do
  echo "=== ablation: ensemble $ensemble ($(date '+%H:%M:%S'))"
  ensemble_run "$ensemble" "$test_src" "$test_ref" || { echo "ablation.sh: ensemble $ensemble failed" >&2; exit 1; }
  runs+=("exp/$ensemble")
done
python3 ../../tools/compare_runs.py "${runs[@]}" --out "exp/$out"
echo "=== ablation: ${#runs[@]} runs in $(( ($(date +%s) - started) / 60 )) min; table and plots in exp/$out"
