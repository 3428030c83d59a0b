#!/usr/bin/env bash
# Stage 0 of the Ding recipe: German-English example sentences from the Debian package
# trans-de-en (the Ding dictionary, GPL-2+), split 16,305 / 1,000 / 1,000.
# Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

if [ -s "$out/train.de" ] && [ -s "$out/test.en" ]; then
  echo "data: $out already holds the Ding splits"; exit 0
fi

dictionary=/usr/share/trans/de-en  # present when the package is installed
if [ ! -s "$dictionary" ]; then
  source "$here/../../lib/debian_fetch.sh"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debian_fetch "$work" trans-de-en
  dictionary="$work/root/usr/share/trans/de-en"
fi
"$python" "$here/extract_ding.py" "$dictionary" "$out"
