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
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt-get download fetches into the current directory, as the _apt user where it can.
  chmod 777 "$work"
  if ! (cd "$work" && apt-get download trans-de-en >/dev/null 2>&1); then
    echo "data: apt does not know trans-de-en yet; running apt-get update" >&2
    apt-get update -qq >/dev/null
    (cd "$work" && apt-get download trans-de-en >/dev/null)
  fi
  dpkg -x "$work"/trans-de-en_*.deb "$work/root"
  dictionary="$work/root/usr/share/trans/de-en"
fi
"$python" "$here/extract_ding.py" "$dictionary" "$out"
