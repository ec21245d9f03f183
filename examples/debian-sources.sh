#!/bin/sh
# Setup for examples/debian_graph.rs: adds a deb-src entry for every Debian deb entry
# (from sources.list or debian.sources) that has none yet in any sources file, then
# refreshes apt's indexes so the Sources indexes appear under /var/lib/apt/lists.
# Run as root (`sh examples/debian-sources.sh`; no sudo needed). Idempotent: rerunning
# rewrites only its own file, dropping entries another file has come to configure.
# APT_ETC (default /etc/apt) and ABICUT_NO_UPDATE=1 (skip apt-get update) are for tests.
set -eu
etc=${APT_ETC:-/etc/apt}
if [ "$(id -u)" != 0 ] && [ -z "${APT_ETC:-}" ]; then
  echo "$0: run as root: it writes $etc/sources.list.d" >&2
  exit 1
fi
dst="$etc/sources.list.d/abicut-deb-src.sources"
tmp="$dst.tmp"

# TARGET_OF URI SUITE COMPONENT FILE:ENTRY for every index apt is configured to fetch,
# fetched or not: without --no-release-info apt lists only suites whose Release file is
# already under Dir::State::Lists, so a deb-src entry never updated would look missing
# (and a deb entry on a machine that never ran apt-get update would look absent).
targets() {
  apt-get -o Dir::Etc="$etc" indextargets --no-release-info \
    --format '$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT) $(SOURCESENTRY)' | sort -u
}

# The Signed-By of entry N of FILE (a deb822 stanza, or a one-line entry's line).
signed_by() {
  case "$1" in
  *.sources) awk -v n="$2" 'BEGIN { RS = ""; FS = "\n" } NR == n {
      for (i = 1; i <= NF; i++) if ($i ~ /^Signed-By:/) { sub(/^Signed-By: */, "", $i); print $i } }' "$1" ;;
  *) sed -n "$2p" "$1" | sed -n 's/.*signed-by=\([^] ]*\).*/\1/p' ;;
  esac
}

all=$(targets)
have=$(echo "$all" | awk -v own="$dst" '$1 == "deb-src" && index($5, own ":") != 1 { print $2, $3, $4 }')
: > "$tmp"
echo "$all" | awk '$1 == "deb" && ($5 ~ /\/sources\.list:/ || $5 ~ /\/debian\.sources:/) { print $2, $3, $4, $5 }' |
  while read -r uri suite component entry; do
    if echo "$have" | grep -qxF "$uri $suite $component"; then continue; fi
    key=$(signed_by "${entry%:*}" "${entry##*:}")
    {
      printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n' "$uri" "$suite" "$component"
      if [ -n "$key" ]; then printf 'Signed-By: %s\n' "$key"; fi
      printf '\n'
    } >> "$tmp"
  done
if [ -s "$tmp" ]; then mv "$tmp" "$dst"; else rm -f "$tmp" "$dst"; fi
if [ "${ABICUT_NO_UPDATE:-}" != 1 ]; then apt-get update -qq; fi
