#!/usr/bin/env bash
# Stage 0 of the Ding recipe: German-English example sentences from the Debian package
# trans-de-en (the Ding dictionary, GPL-2+), split 16,305 / 1,000 / 1,000; with `lexicon`
# also the dictionary's entries, words and phrases, as a second corpus (local/extract_lexicon.py).
# Usage: local/data.sh [OUT_DIR] [lexicon]   (default: data; DING_DICTIONARY=FILE reads a local copy)
set -euo pipefail
out=${1:-data}
want_lexicon=${2:-}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

have_splits() { [ -s "$out/train.de" ] && [ -s "$out/test.en" ]; }
if have_splits && { [ -z "$want_lexicon" ] || [ -s "$out/lexicon.de" ]; }; then
  echo "data: $out already holds the Ding splits${want_lexicon:+ and the lexicon}"; exit 0
fi

dictionary=${DING_DICTIONARY:-/usr/share/trans/de-en}  # present when the package is installed, or a copy
if [ ! -s "$dictionary" ]; then
  source "$here/../../lib/debian_fetch.sh"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debian_fetch "$work" trans-de-en
  dictionary="$work/root/usr/share/trans/de-en"
fi
have_splits || "$python" "$here/../../lib/extract_ding.py" "$dictionary" "$out"
[ -z "$want_lexicon" ] || "$python" "$here/extract_lexicon.py" "$dictionary" "$out"
