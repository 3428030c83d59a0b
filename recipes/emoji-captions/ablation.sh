#!/usr/bin/env bash
# The emoji ablation on unseen skin-tone combinations (English): the language-only baseline, nearest
# training image retrieval, the summary-vector captioner with the tanh cell and with an LSTM, Show,
# Attend and Tell from a scratch CNN and over frozen ImageNet features; then exp/ablation/table.md
# and attention pictures. About 20 minutes a model on 2 CPU cores.
# Usage: ablation.sh [--variants "context_en rnnsearch_en"]   (finished runs are kept)
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
variants="language_only_en context_rnn_en context_en rnnsearch_en pretrained_en"
source ../lib/caption_ablation.sh "$@"
echo "=== ablation: nearest training image"
mkdir -p exp/nearest_en
"$nmt_python" ../lib/nearest_caption.py --train data/train.en.tsv --test data/test.en.tsv > exp/nearest_en/test.hyp
"$nmt_python" local/score_captions.py exp/nearest_en data/test.en.tsv
mkdir -p exp/ablation
"$nmt_python" local/table.py exp/nearest_en "${runs[@]}" > exp/ablation/table.md
pictures=(data/images/noto/1f469-1f3fd-200d-1f52c.png data/images/noto/1f44b-1f3ff.png)  # two test images
attention_pictures "${pictures[@]}"
cat exp/ablation/table.md
echo "=== ablation: table and attention pictures in exp/ablation"
exit
}
