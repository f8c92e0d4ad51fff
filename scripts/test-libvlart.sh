#!/usr/bin/env bash
# The installed libvlart as a robot stack sees it (`make test-lib`, part of `make test`):
#   1. `make install` into a temporary prefix, and with DESTDIR into a staging folder;
#   2. the library: SONAME libvlart.so.MAJOR, no RUNPATH, no Swift runtime libraries needed, and exactly the
#      functions of vlart.h exported;
#   3. the C robot loop (Examples/c-robot-loop) and a C++ consumer (Tests/LibvlartConsumer) built through
#      pkg-config and through CMake's find_package(vlart), run on the demo policy.
# Usage: scripts/test-libvlart.sh POLICY.vla SHARED_DIR   (make test-lib writes the demo policy first)
set -euo pipefail
cd "$(dirname "$0")/.."
policy=$1 shared=$2
make=${MAKE:-make}
say() { printf 'test-lib: %s\n' "$*"; }
die() { printf 'test-lib: FAILED: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
$make --no-print-directory install PREFIX="$prefix" >/dev/null
$make --no-print-directory install PREFIX=/usr DESTDIR="$tmp/stage" >/dev/null

header=Sources/VLARuntimeC/include/vlart.h
major=$(sed -n 's/^#define VLART_VERSION_MAJOR \([0-9]*\).*/\1/p' $header)
minor=$(sed -n 's/^#define VLART_VERSION_MINOR \([0-9]*\).*/\1/p' $header)
patch=$(sed -n 's/^#define VLART_VERSION_PATCH \([0-9]*\).*/\1/p' $header)
version=$major.$minor.$patch
lib=$prefix/lib/libvlart.so.$version

# 1. What was installed, under PREFIX and under DESTDIR.
for f in include/vlart.h lib/libvlart.so.$version lib/pkgconfig/vlart.pc lib/cmake/vlart/vlartConfig.cmake \
         lib/cmake/vlart/vlartConfigVersion.cmake; do
    [ -f "$prefix/$f" ] || die "make install PREFIX=... did not install $f"
    [ -f "$tmp/stage/usr/$f" ] || die "make install DESTDIR=... did not install usr/$f"
done
[ "$(readlink "$prefix/lib/libvlart.so.$major")" = "libvlart.so.$version" ] || die "libvlart.so.$major is not a link to libvlart.so.$version"
[ "$(readlink "$prefix/lib/libvlart.so")" = "libvlart.so.$major" ] || die "libvlart.so is not a link to libvlart.so.$major"
grep -qx 'prefix=/usr' "$tmp/stage/usr/lib/pkgconfig/vlart.pc" || die "vlart.pc under DESTDIR does not name prefix /usr"
if grep -rq "$tmp/stage" "$tmp/stage"; then die "a file under DESTDIR names the staging folder"; fi
say "installed: header, libvlart.so.$version with its two links, vlart.pc, the CMake package (PREFIX and DESTDIR)"

# 2. The library itself.
dyn=$(readelf -d "$lib")
echo "$dyn" | grep -q "Library soname: \[libvlart.so.$major\]" || die "SONAME is not libvlart.so.$major"
if echo "$dyn" | grep -qE 'RUNPATH|RPATH'; then die "libvlart has a RUNPATH: $(echo "$dyn" | grep -E 'RUNPATH|RPATH')"; fi
if echo "$dyn" | grep -q 'NEEDED.*libswift'; then die "libvlart needs Swift runtime libraries: $(echo "$dyn" | grep 'NEEDED.*libswift')"; fi
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | grep -v '^VLART_' | sort)
declared=$(sed -n 's/^[a-z_0-9 ]*[ *]\(vla_[a-z_]*\)(.*/\1/p' $header | sort)
[ -n "$declared" ] || die "found no functions in $header"
[ "$exported" = "$declared" ] || die "exported symbols differ from vlart.h's functions: $(diff <(echo "$declared") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
say "libvlart.so.$version: SONAME libvlart.so.$major, no RUNPATH, no Swift libraries needed, $(echo "$exported" | wc -l) symbols = the header's functions, $(stat -c %s "$lib") bytes"

# 3. Consumers through pkg-config and through CMake.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion vlart)" = "$version" ] || die "pkg-config --modversion vlart is not $version"
flags=$(pkg-config --cflags --libs vlart)
rpath=-Wl,-rpath,$prefix/lib
${CC:-cc} -std=c11 -Wall -Wextra -Werror -O2 -o "$tmp/robot_loop-pc" Examples/c-robot-loop/robot_loop.c $flags $rpath
${CXX:-c++} -std=c++17 -Wall -Wextra -Werror -O2 -o "$tmp/consumer-pc" Tests/LibvlartConsumer/consumer.cpp $flags $rpath
cmake -S Tests/LibvlartConsumer -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DROBOT_LOOP_SOURCE="$PWD/Examples/c-robot-loop/robot_loop.c" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/cmake" >/dev/null
for build in pc cmake; do
    if [ $build = pc ]; then loop=$tmp/robot_loop-pc consumer=$tmp/consumer-pc; else loop=$tmp/cmake/robot_loop consumer=$tmp/cmake/consumer; fi
    ldd "$loop" | grep -q "libvlart.so.$major => $prefix/lib/libvlart.so.$major" || die "$build robot_loop does not load the installed libvlart"
    "$loop" "$policy" "$shared" 3 >"$tmp/loop.out" || { cat "$tmp/loop.out"; die "robot_loop ($build) failed"; }
    grep -q "bad input: 6/6" "$tmp/loop.out" || die "robot_loop ($build) did not reject the bad input"
    "$consumer" "$policy" "$shared" >"$tmp/consumer.out" || { cat "$tmp/consumer.out"; die "consumer ($build) failed"; }
    say "$build: robot_loop and the C++ consumer ran on $(basename "$policy")"
done
cat "$tmp/consumer.out"
