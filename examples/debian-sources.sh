#!/bin/sh
# Setup for examples/debian_graph.rs (run as root): adds a deb-src entry for every deb
# entry of the system's Debian sources, then refreshes apt's indexes so the Sources
# indexes appear under /var/lib/apt/lists. Idempotent.
set -eu
dir=/etc/apt/sources.list.d
if [ -e "$dir/debian.sources" ]; then
  dst="$dir/abicut-deb-src.sources"
  [ -e "$dst" ] || sed 's/^Types: deb$/Types: deb-src/' "$dir/debian.sources" > "$dst.tmp"
else
  dst="$dir/abicut-deb-src.list"
  [ -e "$dst" ] || sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$dst.tmp"
fi
if [ -e "$dst.tmp" ]; then mv "$dst.tmp" "$dst"; fi
apt-get update -qq
