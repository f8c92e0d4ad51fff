#!/usr/bin/env bash
# Regenerates the protobuf-c code committed under Sources/ from the .proto subsets in Schemas/.
#   scripts/gen-proto.sh          regenerate in place
#   scripts/gen-proto.sh --check  regenerate into a temporary folder and fail if the committed code differs
# Each Schemas/*.proto names its C target on a line `// vlac-target: NAME`; the code goes to
# Sources/NAME/NAME.c... as protoc-c names it: <stem>.pb-c.c in Sources/NAME/ and <stem>.pb-c.h in
# Sources/NAME/include/.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
command -v protoc-c >/dev/null || { echo "gen-proto: protoc-c not found (Debian: protobuf-c-compiler)" >&2; exit 1; }
status=0
shopt -s nullglob
for proto in Schemas/*.proto; do
    target=$(sed -n 's#^// vlac-target: *\([A-Za-z0-9_]*\).*#\1#p' "$proto" | head -n1)
    [ -n "$target" ] || { echo "gen-proto: $proto has no '// vlac-target: NAME' line" >&2; exit 1; }
    stem=$(basename "$proto" .proto)
    tmp=$(mktemp -d)
    (cd Schemas && protoc-c --c_out="$tmp" "$stem.proto")
    if [ $check -eq 1 ]; then
        if ! cmp -s "$tmp/$stem.pb-c.c" "Sources/$target/$stem.pb-c.c" ||
           ! cmp -s "$tmp/$stem.pb-c.h" "Sources/$target/include/$stem.pb-c.h"; then
            echo "gen-proto: Sources/$target is stale against $proto; run scripts/gen-proto.sh and commit" >&2
            status=1
        fi
    else
        mkdir -p "Sources/$target/include"
        cp "$tmp/$stem.pb-c.c" "Sources/$target/$stem.pb-c.c"
        cp "$tmp/$stem.pb-c.h" "Sources/$target/include/$stem.pb-c.h"
        echo "gen-proto: $proto -> Sources/$target"
    fi
    rm -rf "$tmp"
done
exit $status
