# Sourced by stages.sh and ablation.sh: scoring a translated test set into a run's results.json.

score_into() {  # score_into EXP_DIR REF_FILE SRC_FILE: EXP_DIR/test.hyp scored (also by source length) into results.json
  local dir=$1 ref=$2 src=$3 groups=()
  # a recipe whose test set mixes corpora names each line's origin in $test_groups: scores by origin too
  [ -n "${test_groups:-}" ] && [ -f "$test_groups" ] && groups=(--groups "$test_groups")
  nmt-score -r "$ref" --source "$src" --length-edges "${length_edges:-10,20,30,40,50}" "${groups[@]}" \
    -i "$dir/test.hyp" --json > "$dir/test.scores.json" &&
  python3 - "$dir" <<'PY'
import json, sys
from pathlib import Path
exp = Path(sys.argv[1])
results = json.loads((exp / "results.json").read_text()) if (exp / "results.json").exists() else {}
results["test"] = json.loads((exp / "test.scores.json").read_text())
(exp / "results.json").write_text(json.dumps(results, indent=2))
print(f"{exp.name}: test BLEU {results['test']['bleu']:.2f}, chrF {results['test']['chrf']:.2f} ({results['test']['bleu_signature']})")
PY
}

ensemble_run() {  # ensemble_run A+B[+C] SRC_FILE REF_FILE: the trained runs exp/A, exp/B, ... decode as one (beam 5)
  local name=$1 src=$2 ref=$3 dir=exp/$1 models=() members=() newest=""
  IFS=+ read -r -a members <<< "$name"
  for member in "${members[@]}"; do
    [ -f "exp/$member/checkpoints/best.pt" ] || { echo "ablation.sh: ensemble $name needs the trained run exp/$member" >&2; return 1; }
    models+=(--model "exp/$member")
    [ -z "$newest" ] || [ "exp/$member/checkpoints/best.pt" -nt "$newest" ] && newest="exp/$member/checkpoints/best.pt"
  done
  mkdir -p "$dir"
  if [ -s "$dir/test.hyp" ] && [ "$dir/test.hyp" -nt "$newest" ]; then
    echo "$dir/test.hyp is newer than its members: kept"
  else
    nmt-translate "${models[@]}" --beam 5 -i "$src" -o "$dir/test.hyp.tmp" && mv "$dir/test.hyp.tmp" "$dir/test.hyp" || return 1
  fi
  python3 - "$dir" "${members[@]}" <<'PY'
import json, sys
from pathlib import Path
dir, members = Path(sys.argv[1]), sys.argv[2:]
params = sum(json.loads((dir.parent / m / "results.json").read_text())["train"]["parameters"] for m in members)
results = json.loads((dir / "results.json").read_text()) if (dir / "results.json").exists() else {}
results["ensemble"] = {"members": members, "parameters": params}
(dir / "results.json").write_text(json.dumps(results, indent=2))
PY
  score_into "$dir" "$ref" "$src"
}
