#!/usr/bin/env bash
# Stage 0 of the emoji recipe: each emoji as Noto Color Emoji (Debian fonts-noto-color-emoji, the
# font's bitmaps), Twemoji (npm @twemoji/svg) and OpenMoji (npm openmoji) draw it, with its Unicode
# CLDR names in English and German (Debian unicode-cldr-core), split by unseen skin-tone
# combinations (local/build_emoji.py). Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
if [ -s "$out/test.de.tsv" ] && [ -s "$out/dev_openmoji.de.tsv" ] && [ -s "$out/names.de.txt" ]; then
  echo "data: $out already holds the emoji splits"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
font=${EMOJI_FONT:-/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf}
cldr=${CLDR_DIR:-/usr/share/unicode/cldr}
if [ ! -s "$font" ] || [ ! -d "$cldr/common/annotations" ]; then
  source "$here/../../lib/debian_fetch.sh"
  debian_fetch "$work" fonts-noto-color-emoji unicode-cldr-core
  font="$work/root/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf" cldr="$work/root/usr/share/unicode/cldr"
fi
source "$here/../../lib/npm_fetch.sh"
npm_fetch "$work" @twemoji/svg@15.0.0 openmoji@17.0.0  # pinned: a new release adds and redraws emoji
"$python" "$here/build_emoji.py" --font "$font" --cldr "$cldr" --twemoji "$work/twemoji-svg" \
  --openmoji "$work/openmoji/color/svg" "$out"
