#!/usr/bin/env bash
# The seed's ablation on the Debian corpus: every variant with the budget and seed of
# conf/base.yaml, then exp/ablation/{table.md,bleu_by_length.png,dev_bleu_vs_time.png,tb/}.
# Each run is hours on a 2-core CPU (well under one on a GPU): run it in the background.
# Usage: ablation.sh [--variants "seq2seq rnnsearch"] [--ensembles "A+B ..."] [--out NAME]   (finished runs are kept)
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
variants="seq2seq seq2seq_reversed context_gru bidir rnnsearch luong"
# Sutskever's forward + backward ensemble: the two seq2seq runs decoding together.
ensembles="seq2seq+seq2seq_reversed" test_src=data/test.de test_ref=data/test.en length_edges=10,20,30,40,50
test_groups=data/test.origin  # scores by the corpus each test pair came from too
source ../lib/ablation.sh
exit
}
