# Shared by the recipes' ablation.sh: trains each variant through run.sh (so every run gets the
# same data, budget and seed from the recipe's base config), then compares them with
# tools/compare_runs.py into exp/ablation. A recipe sets `variants` and sources this file.

while [ $# -gt 0 ]; do
  case "$1" in
    --variants) variants=$2; shift 2 ;;
    *) echo "ablation.sh: unknown option '$1' (expected --variants \"NAME ...\")" >&2; exit 2 ;;
  esac
done
for variant in $variants; do
  [ -f "conf/$variant.yaml" ] || { echo "ablation.sh: no config conf/$variant.yaml" >&2; exit 2; }
done
source "$(dirname "${BASH_SOURCE[0]}")/path.sh"

runs=()
started=$(date +%s)
for variant in $variants; do
  echo "=== ablation: $variant ($(date '+%H:%M:%S'))"
  bash run.sh --conf "conf/$variant.yaml" || { echo "ablation.sh: variant $variant failed" >&2; exit 1; }
  runs+=("exp/$variant")
done
python3 ../../tools/compare_runs.py "${runs[@]}" --out exp/ablation
echo "=== ablation: ${#runs[@]} runs in $(( ($(date +%s) - started) / 60 )) min; table and plots in exp/ablation"
