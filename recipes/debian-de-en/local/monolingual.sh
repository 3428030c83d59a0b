#!/usr/bin/env bash
# Monolingual English for back-translation: the Debian package descriptions that have no German
# translation, without any English sentence of the parallel corpus.
# Usage: local/monolingual.sh [DATA_DIR]   (default: data; needs the splits of local/data.sh)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

if [ -s "$out/mono.en" ]; then
  echo "monolingual: $out/mono.en is there already"; exit 0
fi
source "$here/../../lib/debian_fetch.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debian_lists "$work"
"$python" "$here/monolingual.py" "$work/lists" "$out" "$out/mono.en"
