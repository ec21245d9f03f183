#!/usr/bin/env bash
# The main job, end to end on a fresh Debian machine: install what is missing (Nix 2.8
# from Debian, gcc, pkg-config), build abicut, build the package set in nix/tests with a
# real Nix, bump its base library's version (base-1.0 -> base-1.0.1, as nixpkgs renames a
# package on nearly every update) with an ABI-neutral code change, rebuild, and print what
# Nix built per role (compile, interface, indirection, relink), the time of each build,
# what the programs print and abicut's report; then bump it again with a header change,
# which compiles the dependents. The set has a compiler wrapper (cc, passing base as the
# target libc) and a build tool linked against base (gen, run by mid's build); the builds
# pin the tools' runtime to the set as it was at the start (nix/lib.nix's toolRuntime), so
# the ABI-neutral change reruns no compile that runs gen.
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
# A nonce in an installed header makes this run's outputs new to the store: otherwise a
# second run would find everything already built, the cutoff included.
for p in base cc gen mid prog1 prog2; do
  printf 'mkdir -p "$out/include"\necho "/* demo run %s */" > "$out/include/demo-run-%s.h"\n' \
    "$(date +%s%N)" "$p" >> "$work/nix/tests/src/$p/build.sh"
done
mkdir -p "$work/abicut/bin"
cp target/release/abicut "$work/abicut/bin/abicut"
abicut=target/release/abicut
cd "$work"
# The pinned tool runtime: this set as it is now, evaluated from a copy.
cp -r nix pin
nixargs=(nix/tests --arg abicut "$work/abicut" --arg toolRuntime "import $work/pin/tests { abicut = $work/abicut; }")

# Prints "role package milliseconds" for every derivation a nix-build log reports
# building: role and package from Nix's own description of the derivation, the time from
# the line the builder leaves in the build log (`nix log`).
built() {
  grep -o "building '/nix/store/[^']*'" "$1" | cut -d"'" -f2 | while read -r drv; do
    nix log "$drv" 2>/dev/null | grep -o 'abicut-builder: .*' | awk '{sub(/-[0-9.]*$/, "", $3); sub(/-abi$/, "", $3); print $2, $3, $4}'
  done | sort
}

build() {
  local args=("${nixargs[@]}" --no-out-link)
  for p in base cc gen mid prog1 prog2; do args+=(-A "$p.out"); done
  local start end
  start=$(date +%s%N)
  nix-build "${args[@]}" >"$1.out" 2>"$1.log"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

# Prints the derivations built, per role, with their builders' total time.
roles() {
  local role
  for role in compile interface indirection relink tool; do
    printf '   %-12s %-28s %5d ms in all\n' "$role:" \
      "$(awk -v r="$role" '$1==r{print $2}' "$1" | paste -sd' ')" \
      "$(awk -v r="$role" '$1==r{t+=$3} END{print t+0}' "$1")"
  done
}

# Sets base's version in nix/tests/default.nix (its pname is on the line before).
bump() {
  sed -i "/pname = \"base\";/{n;s/version = \"[^\"]*\"/version = \"$1\"/}" nix/tests/default.nix
}

# Builds every package as run NAME and prints its time, what it built and each role's time.
step() {
  local took
  took=$(build "$1")
  built "$1.log" > "$1.built"
  echo "   $took s, $(wc -l < "$1.built") derivations built"
  roles "$1.built"
}

interface() {
  nix-build "${nixargs[@]}" -A base.interface --no-out-link 2>/dev/null
}

programs() {
  for p in prog1 prog2; do
    "$(nix-build "${nixargs[@]}" -A "$p.out" --no-out-link 2>/dev/null)/bin/$p"
  done
  "$(nix-build "${nixargs[@]}" -A mid.out.out --no-out-link 2>/dev/null)/bin/midtool"
}

echo "== first build (base-1.0)"
step first
nix-instantiate "${nixargs[@]}" -A classic.prog1 -A classic.prog2 2>/dev/null \
  | xargs nix show-derivation -r > graph.json
programs
before=$(interface)

bump 1.0.1
sed -i 's/hello from base v1/hello from base v1.0.1 (ABI-neutral change)/' nix/tests/src/base/base.c
echo "== base-1.0 -> base-1.0.1, an ABI-neutral change: no dependent compiles"
step second
after=$(interface)
echo "   base's interface: $before"
echo "                  -> $after ($([ "$before" = "$after" ] && echo same path || echo NEW PATH))"
echo "== the programs now run the new base"
programs

bump 1.0.2
sed -i 's/#define BASE_MAGIC 40/#define BASE_MAGIC 41/' nix/tests/src/base/base.h
echo "== base-1.0.1 -> base-1.0.2, a changed header: the dependents compile"
step third
programs

echo "== abicut's plan and report for the ABI-neutral change"
cd - >/dev/null
"$abicut" relink-plan "$work/graph.json" --changed base-1.0 --abi same --tools pinned --json > "$work/plan.json"
"$abicut" report "$work/plan.json"
