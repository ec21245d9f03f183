#!/bin/sh
# Fetches the Debian source packages of the real package set into DIR (run as root on
# Debian): adds deb-src entries (examples/debian-sources.sh), then for each source package
# runs `apt-get source` of the release's own version (SUITE, the machine's codename: a
# security update newer than the release may be missing from a mirror) and unpacks it,
# Debian's patches applied, into DIR/NAME, with its upstream version in DIR/NAME.version.
# Idempotent: a package already unpacked is left alone.
#
#   sh nix/tests/real/sources.sh DIR
set -eu
dir=${1:?usage: sources.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
packages="zlib libpng1.6 expat libxml2 libxslt"
mkdir -p "$dir"
missing=
for p in $packages; do [ -e "$dir/$p.version" ] || missing="$missing $p"; done
[ -n "$missing" ] || exit 0
ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1 || sh "$here/../../../examples/debian-sources.sh"
. /etc/os-release
for p in $missing; do
  work=$(mktemp -d "$dir/.fetch-$p.XXXXXX")
  chmod 755 "$work" # apt-get source downloads as _apt
  (cd "$work" && apt-get source -qq --download-only "$p/${VERSION_CODENAME:?}" >/dev/null)
  dsc=$(ls "$work"/*.dsc)
  dpkg-source --no-check -x "$dsc" "$work/tree" >/dev/null
  # The upstream version: no epoch, no Debian revision (Nix store names allow neither ':'
  # nor '~').
  version=$(dpkg-parsechangelog -l "$work/tree/debian/changelog" -S Version | sed 's/^[0-9]*://; s/-[^-]*$//')
  rm -rf "${dir:?}/$p"
  mv "$work/tree" "$dir/$p"
  rm -rf "$work"
  printf '%s\n' "$version" > "$dir/$p.version.tmp"
  mv "$dir/$p.version.tmp" "$dir/$p.version"
done
