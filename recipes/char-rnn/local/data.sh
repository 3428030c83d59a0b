#!/usr/bin/env bash
# Stage 0 of the char-rnn recipe: about 6 MB of C from the Linux kernel (Debian's linux-source
# package, GPL-2), as Karpathy, Johnson and Fei-Fei 2015 used; split by file 90/5/5.
# Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

[ -s "$out/valid.txt" ] && [ ! -e "$out/dev.txt" ] && mv "$out/valid.txt" "$out/dev.txt"  # the older name
if [ -s "$out/train.txt" ] && [ -s "$out/dev.txt" ] && [ -s "$out/test.txt" ]; then
  echo "data: $out already holds the kernel splits"; exit 0
fi
source "$here/../../lib/debian_fetch.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debian_fetch "$work" linux-source-6.1  # bookworm's kernel (a ~140 MB package)
tarball=$(ls "$work"/root/usr/src/linux-source-*.tar.* | head -1)
mkdir -p "$work/src"
# The core kernel, memory management and the library: plain C of the kind the paper shows.
tar -xf "$tarball" -C "$work/src" --wildcards '*/kernel/*.c' '*/mm/*.c' '*/lib/*.c'
"$python" "$here/split_files.py" "$work/src" "$out" --megabytes 6
