# A package that keeps a reference abicut cannot see: the bare store hash of its base
# input (in its compile: base's interface). abicut rewrites and forbids whole paths; Nix
# scans for hashes, so only the relink's disallowedReferences (or, with structured
# attributes, outputChecks) can refuse it. tests/nix.rs expects the relink to fail.
mkdir -p "$out/share"
base_hash=${base##*/}
echo "${base_hash:0:32}" > "$out/share/leak"
