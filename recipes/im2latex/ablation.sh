#!/usr/bin/env bash
# The im2latex ablation on held-out documents, every model on conf/columns_deep_crop.yaml's encoder and
# budget (10,000 updates, about 40 minutes each on 2 CPU cores): the language-only baseline, nearest
# training image retrieval, the summary-vector captioner with the tanh cell and with an LSTM, and
# attention (Luong's, with input feeding); the scratch CNN against ImageNet's (conf/pretrained.yaml, a
# frozen EfficientNet-Lite0, beside its uncropped pair conf/columns_deep_bf16.yaml: crop widths need the
# scratch CNN); then exp/ablation/table.md (with BLEU by formula length) and attention pictures.
# Usage: ablation.sh [--variants "crop_context columns_deep_crop"]   (finished runs are kept)
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
variants="crop_language_only crop_context_rnn crop_context columns_deep_crop columns_deep_bf16 pretrained"
source ../lib/caption_ablation.sh "$@"
echo "=== ablation: nearest training image"
mkdir -p exp/nearest
for split in test test_style; do
  tsv=data/$split.tsv
  "$nmt_python" ../lib/nearest_caption.py --train data/train.tsv --test "$tsv" --height 16 --width 80 --channels 1 \
    > exp/nearest/$split.hyp
  "$nmt_python" local/score_formulas.py exp/nearest "$tsv" "$split"
done
mkdir -p exp/ablation
"$nmt_python" local/table.py exp/nearest "${runs[@]}" > exp/ablation/table.md
pictures=($(cut -f1 data/test.tsv | sed -n '3p;40p' | sed 's|^|data/|'))  # two test formulas
attention_pictures "${pictures[@]}"
cat exp/ablation/table.md
echo "=== ablation: table and attention pictures in exp/ablation"
exit
}
