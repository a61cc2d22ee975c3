#!/usr/bin/env bash
# Puts Emacs 30 (bookworm-backports) in DIR (default ~/.cache/drain-ls-editors/emacs30) without
# installing it, next to the system's Emacs 28, and prints the path of its launcher DIR/emacs:
#   EMACS=$(editors/emacs/test/get-emacs30.sh) editors/emacs/run.sh
# Debian packages only, unpacked with `dpkg -x`, with a private apt state.  (To install it
# instead: add bookworm-backports to apt's sources, apt-get install -t bookworm-backports emacs-nox.)
set -euo pipefail
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/drain-ls-editors/emacs30}"
mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"
if [ -x "$dir/emacs" ] && "$dir/emacs" --version >/dev/null 2>&1; then echo "$dir/emacs"; exit 0; fi

apt="$dir/apt"
mkdir -p "$apt/etc" "$apt/lists/partial" "$apt/debs" "$dir/root"
cat >"$apt/etc/backports.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt/etc"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::pkgcache=$apt/pkgcache.bin"
      -o "Dir::Cache::srcpkgcache=$apt/srcpkgcache.bin" -o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update >&2
(cd "$apt/debs" && apt-get "${opts[@]}" -qq download emacs-nox/bookworm-backports \
  emacs-bin-common/bookworm-backports emacs-common/bookworm-backports libtree-sitter0 >&2)
for deb in "$apt/debs"/*.deb; do dpkg -x "$deb" "$dir/root"; done

version="$(ls "$dir/root/usr/share/emacs" | grep -E '^[0-9]+\.[0-9]+$' | sort -V | tail -1)"
cat >"$dir/emacs" <<LAUNCHER
#!/bin/sh
# Emacs $version from bookworm-backports, unpacked by get-emacs30.sh (not installed).
r='$dir/root'
v='$version'
arch=\$(ls "\$r/usr/libexec/emacs/\$v")
export LD_LIBRARY_PATH="\$r/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export EMACSLOADPATH="\$r/usr/share/emacs/\$v/lisp:\$r/usr/share/emacs/\$v/site-lisp"
export EMACSDATA="\$r/usr/share/emacs/\$v/etc" EMACSDOC="\$r/usr/share/emacs/\$v/etc"
export EMACSPATH="\$r/usr/libexec/emacs/\$v/\$arch"
exec "\$r/usr/bin/emacs-nox" --dump-file="\$(ls "\$r/usr/libexec/emacs/\$v/\$arch"/*.pdmp)" "\$@"
LAUNCHER
chmod +x "$dir/emacs"
"$dir/emacs" --version | head -1 >&2
echo "$dir/emacs"
