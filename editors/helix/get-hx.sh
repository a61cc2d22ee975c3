#!/usr/bin/env bash
# Puts a Helix for tests in DIR (default: ~/.cache/drain-ls-editors/helix-SUITE) and prints the
# path of its launcher, DIR/hx.  Debian bookworm has no Helix; trixie (25.01.1) and sid (25.07.1
# when this was written) package it as `hx`, built against a newer glibc than bookworm's, so this
# unpacks that suite's hx, libc6 and libgcc-s1 with `dpkg -x` (nothing is installed) and runs hx
# through the suite's own dynamic loader.  Only apt and the Debian archive are used, with a
# private apt state, so the system's apt setup is left alone.
#   [HX_SUITE=trixie|sid] editors/helix/get-hx.sh [DIR]      then: HX=DIR/hx editors/helix/test.sh
set -euo pipefail
suite="${HX_SUITE:-trixie}"
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/drain-ls-editors/helix-$suite}"
mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"
if [ -x "$dir/hx" ] && "$dir/hx" --version >/dev/null 2>&1; then echo "$dir/hx"; exit 0; fi

apt="$dir/apt"
mkdir -p "$apt/etc" "$apt/lists/partial" "$apt/debs" "$dir/root"
cat >"$apt/etc/$suite.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt/etc"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::pkgcache=$apt/pkgcache.bin"
      -o "Dir::Cache::srcpkgcache=$apt/srcpkgcache.bin" -o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update >&2
(cd "$apt/debs" && apt-get "${opts[@]}" -qq download hx libc6 libgcc-s1 >&2)
for deb in "$apt/debs"/*.deb; do dpkg -x "$deb" "$dir/root"; done

cat >"$dir/hx" <<EOF
#!/bin/sh
# Helix from Debian $suite (package hx), with $suite's glibc, unpacked by get-hx.sh.
r='$dir/root'
export HELIX_RUNTIME="\${HELIX_RUNTIME:-\$r/usr/lib/hx/runtime}"
exec "\$r/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$r/usr/lib/x86_64-linux-gnu" "\$r/usr/lib/hx/hx" "\$@"
EOF
chmod +x "$dir/hx"
"$dir/hx" --version >&2
echo "$dir/hx"
