# Sourced by the recipe scripts: puts the project's .venv on PATH when the nmt commands are
# not there already (a user who ran `make install` but not `. .venv/bin/activate`).
if ! command -v nmt-train >/dev/null 2>&1; then
  _venv_bin="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin"
  if [ -x "$_venv_bin/nmt-train" ]; then
    PATH="$_venv_bin:$PATH"
  else
    echo "$(basename "$0"): the nmt commands are not installed: run 'make install' in the repository first" >&2
    exit 2
  fi
fi
