#!/usr/bin/env bash
# ctl_status.sh: how long `wsctl status` takes as a whole process (exec,
# connect, request, reply, print, exit), the way an operator or a script
# runs it: median and p95 of N calls, first with wsd idle, then while wrk
# loads it. Not a test: it prints figures for docs/performance.md.
#
# wsd runs from a temporary directory with a private control socket on a
# free loopback port; wrk talks to 127.0.0.1 only, for a bounded time.
# Everything is stopped and removed on exit, error or Ctrl-C.
#
# Exit status: 0 done; 1 a call failed; 2 a missing tool or a usage error;
# 3 wsd could not be started.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
WSCTL_BIN=${WSCTL:-$ROOT_DIR/build/wsctl}
CALLS=200
CONNS=50

usage() {
	cat <<USAGE
usage: $(basename "$0") [-n CALLS] [-c WRK_CONNS]
  -n CALLS       wsctl status calls per phase (default 200)
  -c WRK_CONNS   wrk connections for the loaded phase (default 50)
  WSD, WSCTL     the binaries (default: build/wsd, build/wsctl)
USAGE
}

while getopts "n:c:h" opt; do
	case $opt in
	n) CALLS=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ $CALLS =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
for t in wrk python3 "$WSD_BIN" "$WSCTL_BIN"; do
	command -v "$t" >/dev/null || { echo "ctl_status.sh: missing $t" >&2; exit 2; }
done

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/wsd-ctlbench-XXXXXX)
WRK_PID=
cleanup() {
	[[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null || true
	bench_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir "$TMP/root"
head -c 1024 /dev/urandom >"$TMP/root/1k.bin"
wsd_start "$TMP" "$TMP/root"
PORT=$WSD_PORT

# N calls, each timed as a whole process; prints "median p95" in ms.
measure() {
	python3 - "$WSCTL_BIN" "$TMP/ctl.sock" "$CALLS" <<'PY'
import subprocess, sys, time
wsctl, sock, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = []
for _ in range(n):
    t0 = time.perf_counter()
    r = subprocess.run([wsctl, "-s", sock, "status"], stdout=subprocess.DEVNULL)
    t.append((time.perf_counter() - t0) * 1000)
    if r.returncode != 0:
        sys.exit("wsctl status failed: exit %d" % r.returncode)
t.sort()
print("%.1f %.1f" % (t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.95))]))
PY
}

read -r IDLE_MED IDLE_P95 < <(measure) || exit 1
# wrk runs longer than the calls can take; it is stopped once they are done.
wrk -t 2 -c "$CONNS" -d 120s "http://127.0.0.1:$PORT/1k.bin" >"$TMP/wrk.out" 2>&1 &
WRK_PID=$!
sleep 1
read -r LOAD_MED LOAD_P95 < <(measure) || exit 1
kill -INT "$WRK_PID" 2>/dev/null || true
wait "$WRK_PID" 2>/dev/null || true
WRK_PID=

printf '%d calls of `wsctl status` each (whole process), %s\n' "$CALLS" "$(nproc) cores"
printf '%-28s %10s %10s\n' "" "median" "p95"
printf '%-28s %8s ms %7s ms\n' "idle" "$IDLE_MED" "$IDLE_P95"
printf '%-28s %8s ms %7s ms\n' "under wrk -c $CONNS (1 KiB)" "$LOAD_MED" "$LOAD_P95"
grep -E "Requests/sec" "$TMP/wrk.out" | sed 's/^/wrk meanwhile: /' || true
