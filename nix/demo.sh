#!/usr/bin/env bash
# The main job, end to end on a fresh Debian machine: install what is missing (Nix 2.8
# from Debian, gcc, pkg-config), build abicut, build the package set in nix/tests with a
# real Nix, make an ABI-neutral change to its base library, rebuild, and print what Nix
# compiled, what it only relinked, the time of each build, and abicut's report.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in nix-bin gcc pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
export NIX_CONFIG=$'build-users-group =\nsandbox = false\nsubstituters =\nexperimental-features = nix-command ca-derivations'

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r nix "$work/nix"
mkdir -p "$work/abicut/bin"
cp target/release/abicut "$work/abicut/bin/abicut"
abicut=target/release/abicut
cd "$work"

# Prints "role package" for every derivation a nix-build log reports building.
built() {
  grep -o "building '/nix/store/[^']*'" "$1" | cut -d"'" -f2 | while read -r drv; do
    nix show-derivation "$drv" | tr ',' '\n' | grep -o '"abicutRole":"[a-z]*"\|"name":"[a-z0-9]*-' \
      | sed 's/"abicutRole":"\([a-z]*\)"/\1/; s/"name":"\(.*\)-/\1/' | paste -sd' '
  done | sort
}

build() {
  local args=(nix/tests --arg abicut "$work/abicut" --no-out-link)
  for p in base mid prog1 prog2; do args+=(-A "$p.out"); done
  local start end
  start=$(date +%s%N)
  nix-build "${args[@]}" >"$1.out" 2>"$1.log"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

echo "== first build"
first=$(build first)
echo "   $first s"
nix-instantiate nix/tests --arg abicut "$work/abicut" -A classic.prog1 -A classic.prog2 2>/dev/null \
  | xargs nix show-derivation -r > graph.json

sed -i 's/hello from base v1/hello from base v2 (ABI-neutral change)/' nix/tests/src/base/base.c
echo "== rebuild after an ABI-neutral change to base"
second=$(build second)
echo "   $second s"
echo "   compiled:  $(built second.log | awk '$1=="compile"{print $2}' | paste -sd' ')"
echo "   interface: $(built second.log | awk '$1=="interface"{print $2}' | paste -sd' ')"
echo "   relinked:  $(built second.log | awk '$1=="relink"{print $2}' | paste -sd' ')"
echo "== the programs now run the new base"
for p in prog1 prog2; do
  "$(nix-build nix/tests --arg abicut "$work/abicut" -A "$p.out" --no-out-link 2>/dev/null)/bin/$p"
done
echo "== abicut's plan and report for the same change"
cd - >/dev/null
"$abicut" relink-plan "$work/graph.json" --changed base-1.0 --abi same --json > "$work/plan.json"
"$abicut" report "$work/plan.json"
