#!/usr/bin/env bash
# Benchmarks `ricochet bench` against `ricochet serve`, and checks that the
# load generator is not the bottleneck by running an independent C client
# (bench/peers/bin/echo_client) against the same server, same workload.
#
#   bench/run-bench.sh            # 1 KiB, 10 KiB, 100 KiB × TCP, Unix; -c 10
#
# Environment:
#   DURATION  measured seconds per run (default 2)
#   WARMUP    ricochet bench warm-up seconds per run (default 0, as echo_client
#             has none: both then count from their first connection)
#   REPEATS   ricochet/echo_client pairs per row (default 10); the table
#             shows medians, and the median of the per-pair ratios
#   SIZES     message sizes in bytes (default "1024 10240 102400")
#   CONNS     connections (default 10)
#
# On a machine with two or more cores the server is pinned to CPU 0 and each
# load generator to CPU 1 (one thread each), so server and client never
# steal each other's core and both clients get the same hardware. Runs are
# short and paired (ricochet then C, then C then ricochet, ...), and each
# ratio is taken within a pair, so drift on a shared machine hits both
# clients alike and cancels; the median of the pair ratios shrugs off the
# pairs a neighbour's burst spoiled. Only loopback and a Unix socket in a temp
# dir are used. Needs python3 (to read JSON).
set -euo pipefail

# The comment above is the usage: print it for -h/--help, before any work.
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
case ${1-} in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; printf '\n%s: unknown argument %s\n' "${0##*/}" "$1" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0}
REPEATS=${REPEATS:-10}
SIZES=${SIZES:-"1024 10240 102400"}
CONNS=${CONNS:-10}
RICOCHET=target/release/ricochet
ECHO_CLIENT=bench/peers/bin/echo_client

log() { printf 'run-bench: %s\n' "$*" >&2; }

log "building ricochet (release)"
cargo build --release --quiet
if [[ ! -x $ECHO_CLIENT ]]; then
    log "$ECHO_CLIENT is missing: running bench/install-peers.sh"
    bash bench/install-peers.sh
fi

if (($(nproc) >= 2)); then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
    PINNING="server pinned to CPU 0, load generators to CPU 1 (taskset)"
else
    SERVER_PIN=()
    CLIENT_PIN=()
    PINNING="one CPU: no pinning, server and client share it"
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Port 0: the server picks a free port and prints it.
"${SERVER_PIN[@]}" "$RICOCHET" serve -q tcp://127.0.0.1:0 "unix:$tmp/echo.sock" >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 100); do
    (($(grep -c '^listening on' "$tmp/serve.out" 2>/dev/null || true) >= 2)) && break
    kill -0 "$server_pid" 2>/dev/null || { log "ricochet serve exited"; exit 1; }
    sleep 0.05
done
tcp=$(sed -n 's|^listening on \(tcp://.*\)$|\1|p' "$tmp/serve.out")
port=${tcp##*:}
[[ -n $tcp ]] || { log "ricochet serve did not start"; exit 1; }
log "server: ricochet serve on $tcp and unix:$tmp/echo.sock; $PINNING"

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# timed OUT CMD...: runs CMD, stdout to OUT, and prints the CPU seconds
# (user + system) it used, or "nan" without /usr/bin/time.
timed() {
    local out=$1
    shift
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >"$out"
        awk '{ print $1 + $2 }' "$tmp/time"
    else
        "$@" >"$out"
        echo nan
    fi
}

# ricochet_run TARGET SIZE: prints "msgs_per_sec cpu_us_per_msg MiB_per_sec p50_us p99_us p99.9_us"
ricochet_run() {
    local cpu
    cpu=$(timed "$tmp/r.json" "${CLIENT_PIN[@]}" "$RICOCHET" bench "$1" -c "$CONNS" -s "$2" -t 1 \
        -d "${DURATION}s" -w "${WARMUP}s" --json -q)
    python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]["total"]
e, l = t["errors"], t["latency_ns"]
if any(e.values()):
    print("errors:", e, file=sys.stderr)
cpu = float(sys.argv[2]) * 1e6 / max(t["messages"], 1)
print(t["messages_per_sec"], cpu, t["bytes_per_sec"] / 2**20, l["p50"] / 1e3, l["p99"] / 1e3, l["p99_9"] / 1e3)' \
        "$tmp/r.json" "$cpu"
}

# echo_client_run tcp|unix SIZE: prints "msgs_per_sec cpu_us_per_msg"
echo_client_run() {
    local where cpu
    if [[ $1 == tcp ]]; then where=(-h 127.0.0.1 -p "$port"); else where=(-u "$tmp/echo.sock"); fi
    cpu=$(timed "$tmp/c.json" "${CLIENT_PIN[@]}" "$ECHO_CLIENT" "${where[@]}" -c "$CONNS" -s "$2" \
        -d "$DURATION" -t 1)
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["msgs_per_sec"], float(sys.argv[2]) * 1e6 / max(d["messages"], 1))' "$tmp/c.json" "$cpu"
}

ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print(a / b if b else float("nan"))' "$1" "$2"; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for transport in tcp unix; do
    if [[ $transport == tcp ]]; then target=$tcp; else target="unix:$tmp/echo.sock"; fi
    for size in $SIZES; do
        r_msgs=() r_cpu=() r_mib=() r_p50=() r_p99=() r_p999=() c_msgs=() c_cpu=()
        t_ratio=() c_ratio=()
        for i in $(seq "$REPEATS"); do
            # Alternate who goes first, so neither always gets the warmer slot.
            if ((i % 2)); then
                read -r m cpu mib p50 p99 p999 < <(ricochet_run "$target" "$size")
                read -r cm ccpu < <(echo_client_run "$transport" "$size")
            else
                read -r cm ccpu < <(echo_client_run "$transport" "$size")
                read -r m cpu mib p50 p99 p999 < <(ricochet_run "$target" "$size")
            fi
            r_msgs+=("$m") r_cpu+=("$cpu") r_mib+=("$mib") r_p50+=("$p50") r_p99+=("$p99") r_p999+=("$p999")
            c_msgs+=("$cm") c_cpu+=("$ccpu")
            t_ratio+=("$(ratio "$m" "$cm")") c_ratio+=("$(ratio "$cpu" "$ccpu")")
            log "$transport $size B pair $i/$REPEATS: ricochet bench $(printf %.0f "$m") msg/s ($(printf %.2f "$cpu") µs CPU/msg), echo_client $(printf %.0f "$cm") msg/s ($(printf %.2f "$ccpu") µs CPU/msg)"
        done
        rows+=("$(printf '| %s | %s | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | **%.3f** | %.2f | %.2f | %.3f |' \
            "$transport" "$size" "$(median "${r_msgs[@]}")" "$(median "${r_mib[@]}")" \
            "$(median "${r_p50[@]}")" "$(median "${r_p99[@]}")" "$(median "${r_p999[@]}")" \
            "$(median "${c_msgs[@]}")" "$(median "${t_ratio[@]}")" \
            "$(median "${r_cpu[@]}")" "$(median "${c_cpu[@]}")" "$(median "${c_ratio[@]}")")")
    done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "ricochet bench vs echo_client (C, epoll, counts bytes, verifies nothing) against"
echo "ricochet serve: $CONNS connections, closed loop, ${DURATION}s per run (ricochet warm-up ${WARMUP}s),"
echo "$REPEATS pairs per row; medians, and for ratios the median of the per-pair ratios."
echo "$PINNING. Load average at start: $load_start; at end: $load_end."
echo "Throughput ratio > 1: ricochet bench drove the server faster. CPU/msg: each client's"
echo "user+system CPU time per message (lower is leaner)."
echo
echo "| transport | size (B) | ricochet bench msg/s | MiB/s (one way) | p50 µs | p99 µs | p99.9 µs | echo_client msg/s | throughput ratio ricochet/C | ricochet CPU µs/msg | echo_client CPU µs/msg | CPU ratio ricochet/C |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
