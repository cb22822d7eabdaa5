# Shared helpers for the real-world builds: where downloads are cached, how
# third-party sources are fetched from package registries, timing, and the
# sidecar check.  Sourced by realworld/check, realworld/*/run and bench/run.
#
# Why a cache: every fetch goes to a package registry (Debian source
# packages, crates.io); nothing fetched is ever kept in the repository, so
# reruns on the same machine reuse ~/.cache/lucc-realworld instead.

RW_CACHE=${LUCC_REALWORLD_CACHE:-$HOME/.cache/lucc-realworld}
RW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

rw_say() { printf '[realworld] %s\n' "$*" >&2; }
rw_die() { printf '[realworld] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: CI is root on some machines and has sudo on others.
rw_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get source needs deb-src entries, which a stock Debian 12 image lacks.
# They are derived from the deb entries already configured, so a snapshot or
# local mirror is honoured instead of naming one here.
rw_ensure_deb_src() {
    local probe=$1
    if apt-cache showsrc "$probe" 2>/dev/null | grep '^Files:' >/dev/null; then return 0; fi
    local src=/etc/apt/sources.list.d/debian.sources
    [ -r "$src" ] || rw_die "no $src to derive deb-src entries from"
    rw_say "adding deb-src entries mirroring $src"
    # Keep only the stanzas of type deb, and turn them into deb-src.
    awk 'BEGIN { RS=""; ORS="\n\n" } /(^|\n)Types:[^\n]*deb($|[ \n])/ {
            sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$src" \
        | rw_root tee /etc/apt/sources.list.d/lucc-src.sources >/dev/null
    rw_root apt-get update -qq || rw_die "apt-get update failed"
    apt-cache showsrc "$probe" 2>/dev/null | grep '^Files:' >/dev/null \
        || rw_die "no source package $probe even after adding deb-src"
}

rw_need_cmd() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null && return 0
    rw_say "installing $pkg for $cmd"
    rw_root apt-get install -y -qq "$pkg" >/dev/null || rw_die "cannot install $pkg"
}

# Prints the directory of a pristine, unpacked (patched) Debian source package,
# fetching it on first use.
rw_debian_source() {
    local pkg=$1 dir="$RW_CACHE/debian/$1"
    if [ ! -f "$dir/.unpacked" ]; then
        rw_need_cmd dpkg-source dpkg-dev
        rw_ensure_deb_src "$pkg"
        rm -rf "$dir" && mkdir -p "$dir/dl"
        (cd "$dir/dl" && apt-get source --download-only -qq "$pkg" >/dev/null 2>&1) \
            || rw_die "apt-get source $pkg failed"
        (cd "$dir/dl" && dpkg-source -x --no-check ./*.dsc ../tree >/dev/null) \
            || rw_die "dpkg-source -x $pkg failed"
        touch "$dir/.unpacked"
    fi
    printf '%s\n' "$dir/tree"
}

# Prints the directory holding sqlite3.c from crates.io's libsqlite3-sys,
# fetched with cargo into a CARGO_HOME of its own (a throwaway manifest, so no
# workspace lock file is touched).
RW_SQLITE_CRATE_VERSION=0.30.1
rw_sqlite_source() {
    local v=$RW_SQLITE_CRATE_VERSION base="$RW_CACHE/crates"
    local found
    found=$(ls -d "$base"/home/registry/src/*/libsqlite3-sys-"$v"/sqlite3 2>/dev/null | head -n1)
    if [ -z "$found" ]; then
        command -v cargo >/dev/null || rw_die "cargo is needed to fetch libsqlite3-sys"
        mkdir -p "$base/manifest/src"
        cat > "$base/manifest/Cargo.toml" <<TOML
[package]
name = "lucc-realworld-fetch"
version = "0.0.0"
edition = "2021"

[dependencies]
libsqlite3-sys = { version = "=$v", default-features = false }

[workspace]
TOML
        : > "$base/manifest/src/lib.rs"
        (cd "$base/manifest" && CARGO_HOME="$base/home" cargo fetch -q) \
            || rw_die "cargo fetch of libsqlite3-sys $v failed"
        found=$(ls -d "$base"/home/registry/src/*/libsqlite3-sys-"$v"/sqlite3 | head -n1)
    fi
    [ -f "$found/sqlite3.c" ] || rw_die "no sqlite3.c in $found"
    printf '%s\n' "$found"
}

# Seconds since the epoch, with fractions, for build timings.
rw_now() { date +%s.%N; }

# Every linked binary that lucc builds must have its type-map sidecar beside it.
rw_check_lumap() {
    local missing=0 bin
    for bin in "$@"; do
        [ -x "$bin" ] || { rw_say "missing binary $bin"; missing=1; continue; }
        [ -s "$bin.lumap" ] || { rw_say "no sidecar $bin.lumap"; missing=1; }
    done
    return $missing
}
