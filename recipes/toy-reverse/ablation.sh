#!/usr/bin/env bash
# A two-minute ablation on the reversal task: a fixed-vector seq2seq against RNNsearch, the
# smallest case of Bahdanau 2014's finding (the fixed vector fails first on the long sequences).
# Usage: ablation.sh [--variants "seq2seq rnnsearch"]
set -euo pipefail
cd "$(dirname "$0")"
variants="seq2seq rnnsearch"
source ../lib/ablation.sh
