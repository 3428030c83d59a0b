#!/usr/bin/env bash
# A two-minute ablation on the reversal task: a fixed-vector seq2seq against RNNsearch, the
# smallest case of Bahdanau 2014's finding (the fixed vector fails first on the long sequences).
# Usage: ablation.sh [--variants "seq2seq rnnsearch"] [--ensembles "A+B ..."]
set -euo pipefail
{  # read whole before it runs: bash reads a script as it goes, so an edit mid-run would change the run
cd "$(dirname "$0")"
variants="seq2seq rnnsearch"
# An ensemble of the two runs, decoding together (checks the ensemble stage).
ensembles="seq2seq+rnnsearch" test_src=data/test.src test_ref=data/test.tgt length_edges=6,9
source ../lib/ablation.sh
exit
}
