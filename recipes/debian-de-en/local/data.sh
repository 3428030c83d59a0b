#!/usr/bin/env bash
# Stage 0 of the Debian recipe: German-English pairs from Debian bookworm (Ding example
# sentences, LibreOffice help and user interface, package descriptions), about 100k pairs.
# Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

if [ -s "$out/train.de" ] && [ -s "$out/test.en" ] && [ -s "$out/dev.en" ] && [ -s "$out/test.tagged.en" ]; then
  echo "data: $out already holds the Debian splits"
  [ -s "$out/train.noding.en" ] || "$python" "$here/without_ding.py" "$out"
  exit 0
fi
source "$here/../../lib/debian_fetch.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debian_fetch "$work" trans-de-en libreoffice-help-en-us libreoffice-help-de libreoffice-l10n-de
"$python" "$here/build_corpus.py" "$work/root" "$work/lists" "$out"
"$python" "$here/without_ding.py" "$out"
