#!/usr/bin/env bash
# Stage 0 of the emoji recipe: Noto Color Emoji's bitmaps (Debian fonts-noto-color-emoji) with their
# Unicode CLDR names in English and German (Debian unicode-cldr-core), split by unseen skin-tone
# combinations (local/build_emoji.py). Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
if [ -s "$out/test.en.tsv" ] && [ -s "$out/test.de.tsv" ]; then
  echo "data: $out already holds the emoji splits"; exit 0
fi
font=${EMOJI_FONT:-/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf}
cldr=${CLDR_DIR:-/usr/share/unicode/cldr}
if [ ! -s "$font" ] || [ ! -d "$cldr/common/annotations" ]; then
  source "$here/../../lib/debian_fetch.sh"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debian_fetch "$work" fonts-noto-color-emoji unicode-cldr-core
  font="$work/root/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf" cldr="$work/root/usr/share/unicode/cldr"
fi
"$python" "$here/build_emoji.py" --font "$font" --cldr "$cldr" "$out"
