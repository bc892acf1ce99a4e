#!/usr/bin/env bash
# Installs what the peer echo servers need and builds them into bench/peers/bin/.
#
# Idempotent: installs only what is missing (one apt-get update at most) and
# rebuilds only what is older than its sources. Works from any directory.
# Needs root (or sudo) only when a system package is missing.
#
# Environment: PYTHON (default python3) is the interpreter the Python peers run on.
set -euo pipefail

# The comment above is the usage: print it for -h/--help, before any work.
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
case ${1-} in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; printf '\n%s: unknown argument %s\n' "${0##*/}" "$1" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")"
PEERS=$PWD/peers
BIN=$PEERS/bin
PYTHON=${PYTHON:-python3}

log() { printf 'install-peers: %s\n' "$*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "root is needed to run: $*"
        exit 1
    fi
}

apt_updated=0
apt_install() {
    if ((!apt_updated)); then
        as_root apt-get update
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# stale OUT SRC...: true when OUT is missing or older than one of the SRCs
stale() {
    local out=$1 src
    shift
    [[ -e $out ]] || return 0
    for src in "$@"; do
        [[ $src -nt $out ]] && return 0
    done
    return 1
}

# install_file DEST MODE: stdin becomes DEST unless DEST already has that content
install_file() {
    local dest=$1 mode=$2 tmp
    tmp=$(mktemp "$dest.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        mv -f "$tmp" "$dest"
        log "wrote ${dest#"$PWD"/}"
    fi
}

# --- system packages -------------------------------------------------------
# golang-go, socat, ncat and gcc as asked for; nodejs only if node is missing.
missing=()
for pair in go:golang-go socat:socat ncat:ncat gcc:gcc cc:gcc node:nodejs; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing: ${missing[*]}"
    apt_install "${missing[@]}"
fi
command -v cargo >/dev/null 2>&1 || { log "cargo is missing: install a Rust toolchain first"; exit 1; }
command -v "$PYTHON" >/dev/null 2>&1 || { log "$PYTHON is missing"; exit 1; }

# --- uvloop ----------------------------------------------------------------
if ! "$PYTHON" -c 'import uvloop' >/dev/null 2>&1; then
    log "installing uvloop for $PYTHON"
    if ! "$PYTHON" -m pip install uvloop; then
        # Debian's own python3 refuses pip installs (PEP 668): use its package.
        log "pip refused; trying Debian's python3-uvloop"
        apt_install python3-uvloop
    fi
    "$PYTHON" -c 'import uvloop' || { log "uvloop still not importable by $PYTHON"; exit 1; }
fi

# --- builds ----------------------------------------------------------------
mkdir -p "$BIN"

if stale "$BIN/epoll_echo" "$PEERS/epoll_echo.c"; then
    log "building epoll_echo"
    cc -O2 -o "$BIN/epoll_echo" "$PEERS/epoll_echo.c"
fi

if stale "$BIN/echo_client" "$PEERS/echo_client.c"; then
    log "building echo_client"
    cc -O2 -pthread -o "$BIN/echo_client" "$PEERS/echo_client.c"
fi

if stale "$BIN/echo_go" "$PEERS/echo_go/main.go" "$PEERS/echo_go/go.mod"; then
    log "building echo_go"
    # No dependencies: never ask a module proxy or fetch a toolchain.
    if [[ -z ${GOCACHE:-} && -z ${HOME:-} && -z ${XDG_CACHE_HOME:-} ]]; then
        export GOCACHE=$BIN/.go-cache
    fi
    (cd "$PEERS/echo_go" && GOPROXY=off GOTOOLCHAIN=local go build -trimpath -o "$BIN/echo_go" .)
fi

TOKIO=$PEERS/tokio_echo
if stale "$BIN/tokio_echo" "$TOKIO/Cargo.toml" "$TOKIO/Cargo.lock" "$TOKIO/src/main.rs"; then
    log "building tokio_echo"
    locked=()
    [[ -e $TOKIO/Cargo.lock ]] && locked=(--locked)
    cargo build --release "${locked[@]}" --manifest-path "$TOKIO/Cargo.toml" --target-dir "$TOKIO/target"
    cp -f "$TOKIO/target/release/tokio_echo" "$BIN/tokio_echo"
fi

# Launchers, so every peer starts as: bench/peers/bin/NAME tcp HOST PORT | unix PATH
py=$("$PYTHON" -c 'import sys; print(sys.executable)')
node=$(command -v node)
install_file "$BIN/echo_asyncio" 755 <<EOF
#!/bin/sh
exec "$py" "\$(dirname "\$0")/../echo_asyncio.py" "\$@"
EOF
install_file "$BIN/echo_asyncio_uvloop" 755 <<EOF
#!/bin/sh
exec "$py" "\$(dirname "\$0")/../echo_asyncio.py" --uvloop "\$@"
EOF
install_file "$BIN/echo_uvloop_protocol" 755 <<EOF
#!/bin/sh
exec "$py" "\$(dirname "\$0")/../echo_uvloop_protocol.py" "\$@"
EOF
install_file "$BIN/echo_node" 755 <<EOF
#!/bin/sh
exec "$node" "\$(dirname "\$0")/../echo_node.js" "\$@"
EOF

log "ready: $(cd "$BIN" && echo *)"
