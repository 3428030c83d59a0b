#!/usr/bin/env bash
# Monolingual English for back-translation: the example sentences of WordNet's glosses (Debian
# package wordnet-base, under the WordNet 3.0 licence), normalised as Ding's English is written,
# deduplicated, and without any English sentence of Ding's dev or test split.
# Usage: local/monolingual.sh [DATA_DIR]   (default: data; needs DATA_DIR/{dev,test}.en from local/data.sh)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

if [ -s "$out/mono.en" ]; then
  echo "monolingual: $out/mono.en is there already"; exit 0
fi
wordnet=/usr/share/wordnet  # present when the package is installed
if [ ! -s "$wordnet/data.noun" ]; then
  source "$here/../../lib/debian_fetch.sh"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debian_fetch "$work" wordnet-base
  wordnet="$work/root/usr/share/wordnet"
fi
"$python" "$here/extract_wordnet.py" "$wordnet" "$out/mono.en" --exclude "$out/dev.en" "$out/test.en"
