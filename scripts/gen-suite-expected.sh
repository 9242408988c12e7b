#!/usr/bin/env bash
# Regenerates tests/expected/*.txt from the C versions of the suite
# (../shared/peers/c by default, or $PEERS/c): builds them with gcc -O2
# (no FMA contraction, like our engines) in a temporary directory and runs
# every line of tests/expected/suite.tsv and suite-default.tsv
# (program<TAB>args<TAB>expected-file; args may be empty).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
peers=${PEERS:-../shared/peers}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for manifest in tests/expected/suite.tsv tests/expected/suite-default.tsv; do
    while IFS= read -r line; do
        [[ -z $line || $line == \#* ]] && continue
        prog=${line%%$'\t'*}
        rest=${line#*$'\t'}
        args=${rest%%$'\t'*}
        file=${rest#*$'\t'}
        name=$(basename "$prog" .tj)
        if [[ ! -x $tmp/$name ]]; then
            gcc -O2 -ffp-contract=off -o "$tmp/$name" "$peers/c/$name.c" -lm
        fi
        # shellcheck disable=SC2086 # args are space-separated integers
        "$tmp/$name" $args >"$file"
        echo "$file: $(head -c 200 "$file" | tr '\n' '|')"
    done <"$manifest"
done
