# npm_fetch WORK PACKAGE@VERSION...: downloads npm packages (npm pack: the registry's tarball, no
# install, no scripts run) and unpacks each into WORK/<package name>/ (its tarball's package/).
npm_fetch() {
  local work=$1; shift
  command -v npm >/dev/null || { echo "npm_fetch: npm is not installed (apt-get install npm)" >&2; return 1; }
  mkdir -p "$work/tarballs"
  local spec tarball name
  for spec in "$@"; do
    tarball=$(cd "$work/tarballs" && npm pack --silent "$spec" 2>/dev/null | tail -1) && [ -s "$work/tarballs/$tarball" ] ||
      { echo "npm_fetch: cannot download $spec from the npm registry" >&2; return 1; }
    name=${spec%@*}; name=${name#@}; name=${name//\//-}  # @twemoji/svg@15.0.0 -> twemoji-svg
    mkdir -p "$work/$name" && tar -xzf "$work/tarballs/$tarball" -C "$work/$name" --strip-components=1
  done
}
