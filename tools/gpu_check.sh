#!/usr/bin/env bash
# The toolkit's GPU figures in one script, meant for one call on a lent GPU machine (600 s at most;
# such a machine has torch, sentencepiece, sacrebleu and tensorboard, no network, no nmt):
#
#   bash tools/gpu_check.sh                  # on the GPU machine, with recipes/ding-de-en/data carried
#   DEVICE=cpu QUICK=1 bash tools/gpu_check.sh   # a smoke run of the script itself, here
#
# 1. the device and versions; 2. the Ding reference model trained in fp32 and in bf16 (the dev
# perplexity curves, minutes, test BLEU); 3. tools/bench.py on that device against the trained
# model (training tokens/s at 16 to 256 sentences, translation of the Ding test set, fp32 and
# bf16, torch.compile) and tools/profile_step.py (GPU-busy time against wall time, kernel
# launches an update); 4. the tests that need CUDA, where pytest is installed. Results go to
# $OUT (the device tool's folder that comes back) or ./gpu_check.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OUT:-$repo/gpu_check}
device=${DEVICE:-cuda}
quick=${QUICK:-0}
mkdir -p "$out"
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}

# The nmt commands without installing the package: thin wrappers around python3 -m nmt.cli.X.
bin=$(mktemp -d)
for command in train translate score; do
  printf '#!/bin/sh\nexec python3 -m nmt.cli.%s "$@"\n' "$command" > "$bin/nmt-$command"
  chmod +x "$bin/nmt-$command"
done
export PATH=$bin:$PATH

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'device available:', torch.cuda.is_available())"
} | tee "$out/device.txt"

# 2. The recipe's stages (prepare and train, translate with beam 5, score), fp32 then bf16.
cd "$repo/recipes/ding-de-en"
[ -f data/train.de ] || { echo "gpu_check: recipes/ding-de-en/data is missing: carry it (run stage 0 where there is a network)" >&2; exit 2; }
budget=() test_input=data/test.de test_ref=data/test.en
if [ "$quick" = 1 ]; then
  budget=(--set train.max_steps=4 --set train.validate_every=2)
  head -n 50 data/test.de > "$out/test50.de" && test_input=$out/test50.de
  head -n 50 data/test.en > "$out/test50.en" && test_ref=$out/test50.en
fi
for conf in rnnsearch rnnsearch_bf16; do
  exp=exp/gpu_$conf
  rm -rf "$exp"
  start=$SECONDS
  nmt-train --config "conf/$conf.yaml" --set exp_dir="$exp" --set train.device="$device" "${budget[@]}" \
    2> "$out/$conf.train.log"
  grep "^validation" "$out/$conf.train.log"  # (the summary line came on stdout)
  echo "$conf: $((SECONDS - start)) s to prepare and train"
  start=$SECONDS
  nmt-translate --model "$exp" --device "$device" --beam 5 -i "$test_input" -o "$out/$conf.test.hyp"
  echo "$conf: $((SECONDS - start)) s to translate $(wc -l < "$test_input") sentences with beam 5, start-up included"
  nmt-score -r "$test_ref" --json < "$out/$conf.test.hyp" > "$out/$conf.score.json"
  cp "$exp/results.json" "$out/$conf.results.json"
done | tee "$out/recipe.txt"

# 3. The benchmark reads exp/rnnsearch (the trained model and its prepared batches).
rm -rf exp/rnnsearch.gpu_check_backup
[ -e exp/rnnsearch ] && mv exp/rnnsearch exp/rnnsearch.gpu_check_backup
cp -r exp/gpu_rnnsearch exp/rnnsearch
cd "$repo"
bench=(--device "$device" --bf16 --compile --json "$out/bench.json")
[ "$quick" = 1 ] && bench+=(--quick)
python3 tools/bench.py "${bench[@]}" 2>&1 | tee "$out/bench.txt"
# Where an update's time goes: GPU-busy against wall time, kernel launches (tools/profile_step.py).
for batch_size in 64 256; do
  profile=(--device "$device" --batch-size "$batch_size" --json "$out/profile_$batch_size.json")
  [ "$quick" = 1 ] && profile+=(--updates 1)
  python3 tools/profile_step.py "${profile[@]}" 2>&1 | grep -v "^USDT" | tee "$out/profile_$batch_size.txt"
done
rm -rf recipes/ding-de-en/exp/rnnsearch
[ -e recipes/ding-de-en/exp/rnnsearch.gpu_check_backup ] && mv recipes/ding-de-en/exp/rnnsearch.gpu_check_backup recipes/ding-de-en/exp/rnnsearch

# 4. Tests that only run where CUDA is (each skips or takes its CPU branch without it).
if python3 -c "import pytest" 2>/dev/null; then
  # -o addopts="": the project's `-n auto` needs pytest-xdist, which a bare machine may lack
  python3 -m pytest -o addopts="" -q -rs tests/test_train.py tests/test_trainer_contract.py -k "fp16" 2>&1 | tail -4 | tee "$out/tests.txt"
else
  echo "pytest is not installed here: CUDA tests not run" | tee "$out/tests.txt"
fi
echo "gpu_check: results in $out"
