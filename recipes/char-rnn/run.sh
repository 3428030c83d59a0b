#!/usr/bin/env bash
# The seed's character-level RNN on Linux kernel C (Karpathy, Johnson and Fei-Fei 2015), in stages:
#   0 data: ~6 MB of kernel C from Debian's linux-source, split by file 90/5/5   (local/data.sh)
#   1 train the character model (nmt-train, task: char_lm)
#   2 test bits per character                                                  (nmt-sample --evaluate)
#   3 samples at temperatures 0.5 / 0.8 / 1.0 and by argmax                    (nmt-sample)
#   4 the cells: units that track strings, brackets, line position; gate saturation   (tools/cells.py)
#   5 the baseline: a Kneser-Ney character n-gram, compared by position in the line   (tools/ngram.py)
# Usage: run.sh [--stage N] [--stop-stage M] [--conf conf/lstm.yaml]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
stage=0 stop_stage=5 conf=conf/lstm.yaml
source ../lib/stages.sh
tools=../../tools

test_bpc() {
  nmt-sample --model "$exp" --evaluate data/test.txt --json "$exp/test.json" &&
  python3 - "$exp" <<'PY'
import json, sys
from pathlib import Path
exp = Path(sys.argv[1])
results = json.loads((exp / "results.json").read_text()) if (exp / "results.json").exists() else {}
results["test"] = json.loads((exp / "test.json").read_text())
(exp / "results.json").write_text(json.dumps(results, indent=2))
PY
}

samples() {
  : > "$exp/samples.txt"
  for temperature in 0.5 0.8 1.0; do
    { echo "=== temperature $temperature, seed 1"; nmt-sample --model "$exp" --prime "static int " --length 600 \
        --temperature "$temperature" --seed 1; } >> "$exp/samples.txt"
  done
  { echo "=== argmax"; nmt-sample --model "$exp" --prime "static int " --length 300 --argmax; } >> "$exp/samples.txt"
  cat "$exp/samples.txt"
}

run_stage 0 data local/data.sh data
run_stage 1 train train_model
run_stage 2 test test_bpc
run_stage 3 samples samples
run_stage 4 cells python3 "$tools/cells.py" --model "$exp" -i data/test.txt --chars 6000 --search \
  -o "$exp/cells.html" --png "$exp/cells.png" --saturation "$exp/saturation.png" --report "$exp/cells.json"
run_stage 5 ngram python3 "$tools/ngram.py" --train data/train.txt --dev data/dev.txt --test data/test.txt \
  --max-order 12 --lstm "$exp" --json exp/ngram.json
exit
}
