#!/usr/bin/env bash
# clock_reads.sh: how often wsd's workers read the clock, per request.
#
# The worker's clock reads are vDSO calls: strace cannot see them. A perf
# uprobe on libc's clock_gettime can; it counts every read in the worker
# processes - wsd's own and libevent's - while tests/bench/nreq sends
# exactly N requests (every response checked), and the loop rounds beside
# them (epoll_wait calls). Needs root and perf (apt-get install
# linux-perf); the probe is added for the run and removed on exit.
#
# Nothing leaves 127.0.0.1; everything lives in one temporary directory,
# removed on exit with the server.
#
#   tests/bench/clock_reads.sh [-n N] [-c CONNS] [--wsd PATH]
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=20000
CONNS=64
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}

while [[ $# -gt 0 ]]; do
	case $1 in
	-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "clock_reads.sh: -n needs a positive number" >&2; exit 2; }
		N=$2; shift ;;
	-c) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "clock_reads.sh: -c needs a positive number" >&2; exit 2; }
		CONNS=$2; shift ;;
	--wsd) [[ $# -ge 2 ]] || exit 2; WSD_BIN=$2; shift ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "clock_reads.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
NREQ=$(dirname "$WSD_BIN")/tests/nreq
[[ -x $WSD_BIN && -x $NREQ ]] || { echo "clock_reads.sh: no $WSD_BIN or $NREQ (build first)" >&2; exit 2; }
LIBC=$(ldd "$WSD_BIN" | awk '/libc\.so/ {print $3}')
[[ -n $LIBC ]] || { echo "clock_reads.sh: cannot find the libc $WSD_BIN uses (ldd)" >&2; exit 2; }
command -v perf >/dev/null || { echo "clock_reads.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "clock_reads.sh: needs root (a uprobe)" >&2; exit 2; }

# shellcheck source=tests/bench/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsd-clock.XXXXXX")
chmod 755 "$TMP"
# shellcheck disable=SC2317  # invoked by bench_traps
bench_cleanup_extra() { perf probe -q -d probe_libc:clock_gettime 2>/dev/null || true; }
bench_traps

mkdir -m 755 "$TMP/root"
head -c 1024 /dev/urandom >"$TMP/root/1k.bin"
chmod 644 "$TMP/root/1k.bin"
wsd_start "$TMP/wsd" "$TMP/root" "[pool]
min = 2
max = 2"
PORT=$WSD_PORT
perf probe -q -d probe_libc:clock_gettime 2>/dev/null || true
perf probe -q -x "$LIBC" clock_gettime
MANAGER=$(pgrep -P "$WSD_PID" -f '^wsd: manager' || true)
WORKERS=$([[ -z $MANAGER ]] || pgrep -d, -P "$MANAGER" -f '^wsd: worker' || true)
[[ -n $WORKERS ]] || { echo "clock_reads.sh: no worker found" >&2; exit 3; }

echo "wsd: $("$WSD_BIN" -v 2>&1 | head -n1), $WSD_BIN; $CONNS connections; workers $WORKERS"
printf '%-10s %9s %14s %14s\n' profile requests "clock/request" "rounds/request"
# profile name, requests, nreq arguments
for spec in "ka-1k $N" "close-1k $((N / 2)) -x" "pipe-1k $((N * 2)) -d 16"; do
	read -r name count args <<<"$spec"
	# shellcheck disable=SC2086  # args is a word list
	"$NREQ" -n "$((count / 10 + 1))" -c "$CONNS" $args "$PORT" /1k.bin >/dev/null # warm-up
	# shellcheck disable=SC2086
	perf stat -x, -o "$TMP/stat" -e probe_libc:clock_gettime,syscalls:sys_enter_epoll_wait \
		-p "$WORKERS" -- "$NREQ" -n "$count" -c "$CONNS" $args "$PORT" /1k.bin >/dev/null
	reads=$(awk -F, '/clock_gettime/ {print $1}' "$TMP/stat")
	rounds=$(awk -F, '/epoll_wait/ {print $1}' "$TMP/stat")
	printf '%-10s %9d %14.3f %14.3f\n' "$name" "$count" \
		"$(echo "$reads / $count" | bc -l)" "$(echo "$rounds / $count" | bc -l)"
done
