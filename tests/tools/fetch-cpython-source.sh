#!/usr/bin/env bash
# Fetch CPython 3.11.2's upstream source tarball for the runtime-build tests, and the
# headers its optional modules need. These machines cannot reach python.org, but
# Debian's source package carries the upstream tarball unchanged
# (python3.11_3.11.2.orig.tar.gz is Python-3.11.2.tgz, same sha256).
#
# Usage: fetch-cpython-source.sh CACHE_DIR   (prints the tarball's path on stdout)
# Idempotent: a tarball already in CACHE_DIR is reused; installed packages are skipped.
set -euo pipefail
cache=${1:?usage: fetch-cpython-source.sh CACHE_DIR}
tarball="$cache/python3.11_3.11.2.orig.tar.gz"
sha256=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849
build_deps=(gcc make patch libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev
            libsqlite3-dev libreadline-dev libncurses-dev uuid-dev libgdbm-dev)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
updated=
apt_update() { [ -n "$updated" ] || { as_root apt-get update -qq >&2; updated=1; }; }

missing=()
for package in "${build_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

if ! [ -f "$tarball" ] || ! echo "$sha256  $tarball" | sha256sum --check --status; then
    sources=/etc/apt/sources.list.d/srcstacks-deb-src.sources
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        # Same URI, suite and keyring as the machine's own bookworm entry.
        printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" \
            "Suites: bookworm" "Components: main" \
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
            | as_root tee "$sources" >/dev/null
        updated=
    fi
    apt_update
    mkdir -p "$cache"
    (cd "$cache" && apt-get source --download-only -qq python3.11 >&2)
    echo "$sha256  $tarball" | sha256sum --check --status \
        || { echo "fetch-cpython-source.sh: $tarball has another sha256" >&2; exit 1; }
fi
echo "$tarball"
