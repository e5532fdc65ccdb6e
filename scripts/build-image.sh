#!/usr/bin/env bash
# Builds the local stack's container image without any registry: the image is FROM scratch
# with the local stack's binary (release unless --binary), the shared libraries it links
# and the dynamic loader (found with ldd), and the bundled stack files.
#
#   scripts/build-image.sh            # builds drdrill/localstack:local
#   DRDRILL_IMAGE=name:tag scripts/build-image.sh
#   scripts/build-image.sh --binary target/debug/drdrill-localstack
#
# Needs a Docker engine (scripts/docker-engine.sh start) and takes one release build of
# the local stack (a few minutes on 2 cores; incremental afterwards). `--binary PATH` packs
# a binary already built instead (scripts/test.sh packs the one its test build made, so CI
# compiles the dependency tree once, not twice).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${DRDRILL_IMAGE:-drdrill/localstack:local}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CTX=$TARGET_DIR/docker-context
BIN=
case "${1:-}" in
    --binary)
        BIN=${2:?"build-image: --binary needs a path"}
        ;;
    "") ;;
    *)
        echo "build-image: unknown argument $1 (usage: build-image.sh [--binary PATH])" >&2
        exit 2
        ;;
esac
if [[ -z $BIN ]]; then
    BIN=$TARGET_DIR/release/drdrill-localstack
    cargo build --release --locked -p drdrill-localstack
fi
[[ -x $BIN ]] || {
    echo "build-image: $BIN was not built" >&2
    exit 1
}

rm -rf "$CTX"
mkdir -p "$CTX/rootfs/usr/local/bin" "$CTX/rootfs/etc/drdrill/stacks"
# Symbols are not needed in the image; the build tree keeps its own copy.
strip -o "$CTX/rootfs/usr/local/bin/drdrill-localstack" "$BIN" 2>/dev/null ||
    cp "$BIN" "$CTX/rootfs/usr/local/bin/drdrill-localstack"
cp localstack/stacks/*.yaml "$CTX/rootfs/etc/drdrill/stacks/"

# Every absolute path ldd names: the libraries (resolved through symlinks) and the loader
# at the path the binary asks for. A static binary has none.
if ldd "$BIN" >/dev/null 2>&1; then
    ldd "$BIN" | grep -o '/[^ )]*' | sort -u | while read -r lib; do
        cp -L --parents "$lib" "$CTX/rootfs/"
    done
fi
cp docker/Dockerfile "$CTX/Dockerfile"

revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
docker build --quiet \
    --label "org.opencontainers.image.title=drdrill-localstack" \
    --label "org.opencontainers.image.revision=$revision" \
    -t "$IMAGE" "$CTX" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "build-image: built $IMAGE ($((size / 1024 / 1024)) MiB; $(find "$CTX/rootfs" -type f | wc -l) files)"
