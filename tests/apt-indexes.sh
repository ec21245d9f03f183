#!/usr/bin/env bash
# Exits 0 when every suite apt is configured to fetch has a Packages index on disk, 1 when
# one has none (a brand-new machine, or an image that emptied /var/lib/apt/lists). The
# tests that ask the archive (`apt-get download`, `apt-cache madison`) need those indexes
# even when every package of tests/debian-packages.txt is installed, so tests/run.sh runs
# `apt-get update` on 1. A suite may list fewer indexes than apt could fetch (no
# binary-all), so one present index per suite is enough.
set -euo pipefail
apt-get indextargets --no-release-info --format '$(REPO_URI)$(RELEASE) $(FILENAME)' 'Created-By: Packages' |
  while read -r suite file; do
    if compgen -G "$file*" >/dev/null; then echo "have $suite"; else echo "want $suite"; fi
  done |
  awk '$1 == "have" { have[$2] = 1 } $1 == "want" { want[$2] = 1 }
       END { for (s in want) if (!(s in have)) { print "no Packages index for " s > "/dev/stderr"; exit 1 } }'
