# debian_fetch WORK PACKAGE...: downloads Debian bookworm packages and unpacks them into
# WORK/root, with a private apt configuration (lists and cache under WORK), so the system's
# apt configuration and state are never touched. The index files (Packages, Translation-en,
# Translation-de of main) stay under WORK/lists for the recipes that read them.
debian_fetch() {
  local work=$1; shift
  debian_lists "$work" || return 1
  (cd "$work/debs" && APT_CONFIG="$work/apt.conf" apt-get download -q "$@" >/dev/null) ||
    { echo "debian_fetch: cannot download $*" >&2; return 1; }
  local deb
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
}

# debian_lists WORK: the index files alone (WORK/lists), for a recipe that reads no package.
debian_lists() {
  local work=$1
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/parts" "$work/root"
  chmod 755 "$work"; chmod 777 "$work/debs"  # apt fetches as the _apt user where it can
  echo "deb http://deb.debian.org/debian bookworm main" > "$work/sources.list"
  cat > "$work/apt.conf" <<CONF
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Etc::SourceList "$work/sources.list";
Dir::Etc::SourceParts "$work/parts";
Dir::Etc::Parts "$work/parts";
Acquire::Languages { "en"; "de"; };
CONF
  APT_CONFIG="$work/apt.conf" apt-get update -q >/dev/null ||
    { echo "debian_fetch: cannot reach deb.debian.org (apt-get update failed)" >&2; return 1; }
}
