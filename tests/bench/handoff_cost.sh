#!/usr/bin/env bash
# handoff_cost.sh: what a new connection costs the listener and the manager.
#
# Starts wsd (2 workers by default) on loopback and sends a fixed number of
# `Connection: close` requests for a 1 KiB file with ab (HTTP/1.0, no
# keep-alive: one connection per request), twice:
#   1. plain: context switches (voluntary + involuntary, /proc/PID/status)
#      per connection for the listener, the manager and the workers, and
#      the req/s ab saw;
#   2. under `strace -c`, one strace per role: syscalls per connection in
#      each role, with the hand-off's own calls listed.
# The figures per connection move far less with the machine's load than
# req/s. Everything lives in a temporary directory removed on exit.
#
# usage: handoff_cost.sh [-n requests] [-c concurrency] [-w workers] [--wsd PATH]
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=5000
C=32
WORKERS=2
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) N=$2; shift ;;
	-c) C=$2; shift ;;
	-w) WORKERS=$2; shift ;;
	--wsd) WSD_BIN=$2; shift ;;
	*) echo "usage: $0 [-n requests] [-c concurrency] [-w workers] [--wsd PATH]" >&2; exit 2 ;;
	esac
	shift
done
for t in ab strace; do
	command -v $t >/dev/null || { echo "handoff_cost.sh: $t not found" >&2; exit 2; }
done

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsd-handoff.XXXXXX")
chmod 755 "$TMP"
cleanup() {
	bench_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir "$TMP/root"
head -c 1024 /dev/urandom >"$TMP/root/1k.bin"
chmod -R a+rX "$TMP/root"
wsd_start "$TMP" "$TMP/root" "[server]
shutdown_timeout = 2s
[pool]
min = $WORKERS
max = $WORKERS
[log]
level = info"
PORT=$WSD_PORT

role_pids() { pgrep -P "$1" -f "^wsd: $2" | paste -sd' '; }
LISTENER=$(role_pids "$WSD_PID" listener)
MANAGER=$(role_pids "$WSD_PID" manager)
WORKER_PIDS=$(role_pids "$MANAGER" worker)
URL="http://127.0.0.1:$PORT/1k.bin"

ctx() { # summed context switches of the pids
	local n=0 p
	for p in "$@"; do
		n=$((n + $(awk '/ctxt_switches/ {s += $2} END {print s}' "/proc/$p/status")))
	done
	echo "$n"
}

ab -q -n 500 -c "$C" "$URL" >/dev/null # warm-up
l0=$(ctx $LISTENER) m0=$(ctx $MANAGER) w0=$(ctx $WORKER_PIDS)
rps=$(ab -q -n "$N" -c "$C" "$URL" | awk '/^Requests per second/ {print $4}')
l1=$(ctx $LISTENER) m1=$(ctx $MANAGER) w1=$(ctx $WORKER_PIDS)
echo "wsd $(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null), $WORKERS workers, ab -n $N -c $C (Connection: close, 1 KiB)"
echo "req/s (plain run): $rps"
awk -v n="$N" -v l=$((l1 - l0)) -v m=$((m1 - m0)) -v w=$((w1 - w0)) 'BEGIN {
	printf "context switches per connection: listener %.2f, manager %.2f, workers %.2f\n", l / n, m / n, w / n }'

STRACES=()
trace() { # role pids...: strace -c on them while ab runs
	local role=$1 p args=()
	shift
	for p in "$@"; do args+=(-p "$p"); done
	strace -c -o "$TMP/$role.strace" "${args[@]}" </dev/null >/dev/null 2>&1 &
	STRACES+=($!)
}
trace listener $LISTENER
trace manager $MANAGER
trace workers $WORKER_PIDS
sleep 1 # strace attached
ab -q -n "$N" -c "$C" "$URL" >/dev/null
kill -INT "${STRACES[@]}"
wait "${STRACES[@]}" 2>/dev/null || true
echo "syscalls per connection (strace -c, $N connections):"
for role in listener manager workers; do
	awk -v n="$N" -v r="$role" '
		$1 ~ /^[0-9.]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {
			c = $4; e = (NF == 6) ? $5 : 0
			tot += c; per = per sprintf(" %s %.2f%s", $NF, c / n, e ? sprintf(" (%.2f err)", e / n) : "")
		}
		END { printf "  %-8s %.2f:%s\n", r, tot / n, per }' "$TMP/$role.strace"
done
