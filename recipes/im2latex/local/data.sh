#!/usr/bin/env bash
# Stage 0 of the im2latex recipe: formulas from Debian's TeX documentation (texlive-science-doc,
# texlive-latex-recommended-doc, lyx-common) and the docstrings of the scientific-Python packages
# installed beside nmt (numpy, matplotlib, torch), drawn with matplotlib's mathtext
# (local/build_formulas.py). Usage: local/data.sh [OUT_DIR]   (default: data)
set -euo pipefail
out=${1:-data}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
if [ -s "$out/test.tsv" ] && [ -s "$out/test_style.tsv" ] && grep -q "^images/random" "$out/train.tsv"; then  # (random formulas: since 2026-12-07)
  echo "data: $out already holds the formulas"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$here/../../lib/debian_fetch.sh"
debian_fetch "$work" texlive-science-doc texlive-latex-recommended-doc lyx-common
packages=()
for package in numpy matplotlib torch; do
  packages+=(--python "$("$python" -c "import importlib.util, os, sys; print(os.path.dirname(importlib.util.find_spec(sys.argv[1]).origin))" "$package")")
done
MPLBACKEND=Agg "$python" "$here/build_formulas.py" --tex "$work/root/usr/share" "${packages[@]}" "$out"
