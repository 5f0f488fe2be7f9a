#!/usr/bin/env bash
# idle_mem.sh: memory per idle keep-alive connection, with parking.
#
# Starts wsd (pool.min 2, http.park_after 1s, keep-alive 5 min) on
# 127.0.0.1, opens N keep-alive connections with one request each
# (tests/bench/idleconns), waits until the listener holds them all
# parked, and reports
#
#   (total PSS of all wsd processes with N idle - with none) / N
#
# twice: "with none" measured on the fresh server, and again on the same
# server after a first batch of N came and went (the steady state: what a
# worker keeps for reuse is counted in the base). It also checks that the
# pool stayed at its min and that every connection is answered, none
# closed, when it speaks again.
#
#   tests/bench/idle_mem.sh [N]      (default 10000; the fd hard limit must allow N + 300)
#
# Everything lives in one temporary directory, removed on exit; wsd is
# stopped on exit, error or Ctrl-C. Exit 0 = done and wsd behaved,
# 1 = a check failed, 2 = usage or a missing tool, 3 = wsd did not start.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
CLIENT=${IDLECONNS:-$ROOT_DIR/build/tests/idleconns}
N=${1:-10000}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: idle_mem.sh [N]" >&2; exit 2; }
for t in "$WSD_BIN" "$CLIENT"; do
	[[ -x $t ]] || { echo "idle_mem.sh: $t missing: build first" >&2; exit 2; }
done
HARD=$(ulimit -Hn)
if [[ $HARD != unlimited && $HARD -lt $((N + 300)) ]]; then
	echo "idle_mem.sh: the descriptor hard limit $HARD is below N + 300; N = $((HARD - 300))" >&2
	N=$((HARD - 300))
fi
ulimit -n "$HARD"

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/wsd-idlemem.XXXXXX)
C_PID=
cleanup() {
	[[ -n $C_PID ]] && kill "$C_PID" 2>/dev/null || true
	bench_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir "$TMP/root"
head -c 1024 /dev/urandom >"$TMP/root/1k.bin"
wsd_start "$TMP" "$TMP/root" "[pool]
min = 2
max = 16
[http]
park_after = 1s
keepalive_timeout = 5m"
PORT=$WSD_PORT

# wsd's processes: the daemon and its descendants.
pids() {
	local all=("$WSD_PID") i=0 p
	while ((i < ${#all[@]})); do
		p=${all[i]}
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do all+=("$c"); done
		i=$((i + 1))
	done
	echo "${all[@]}"
}
pss_kb() {
	local sum=0 p v
	for p in $(pids); do
		v=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
by_role() {
	local p out=""
	for p in $(pids); do
		out+="$(tr -d '\0' </proc/"$p"/cmdline | sed 's/^wsd: //') $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup) kB; "
	done
	echo "$out"
}
role_pid() { for p in $(pids); do [[ $(tr -d '\0' </proc/"$p"/cmdline) == "wsd: $1" ]] && echo "$p"; done; return 0; }
workers() { local n=0; for p in $(pids); do [[ $(tr -d '\0' </proc/"$p"/cmdline) == "wsd: worker" ]] && n=$((n + 1)); done; echo "$n"; }
sockets() { find /proc/"$1"/fd -lname 'socket:*' 2>/dev/null | wc -l; }

LPID=$(role_pid listener)
LBASE=$(sockets "$LPID")
FAIL=0

# One batch: N idle connections, parked; PSS and the pool; then all speak again.
batch() {
	local base=$1 fifo="$TMP/ctl.$2" before after per
	mkfifo "$fifo"
	"$CLIENT" "$PORT" "$N" /1k.bin <"$fifo" >"$TMP/client.$2" &
	C_PID=$!
	exec 7>"$fifo"
	for _ in $(seq 600); do grep -q '^held' "$TMP/client.$2" && break; sleep 0.1; done
	for _ in $(seq 600); do (($(sockets "$LPID") >= LBASE + N)) && break; sleep 0.1; done
	sleep 1
	after=$(pss_kb)
	per=$(((after - base) * 1024 / N))
	printf '%-34s %8d kB -> %8d kB: %4d B per idle connection; parked %d; workers %d\n' \
		"$3" "$base" "$after" "$per" $(($(sockets "$LPID") - LBASE)) "$(workers)"
	echo "  PSS by process: $(by_role)"
	(($(workers) == 2)) || { echo "  the pool left its min"; FAIL=1; }
	echo go >&7
	exec 7>&-
	wait "$C_PID" || FAIL=1
	C_PID=
	sed 's/^/  /' "$TMP/client.$2" | grep answered
}

sleep 1
echo "wsd $WSD_BIN, N = $N, pool.min 2, http.park_after 1s"
echo "  PSS by process, no connection: $(by_role)"
batch "$(pss_kb)" 1 "fresh server:"
for _ in $(seq 100); do (($(sockets "$LPID") == LBASE)) && break; sleep 0.1; done
# the batch's clients closed: wait until the listener holds none
sleep 2
batch "$(pss_kb)" 2 "after a first batch (steady state):"
exit $FAIL
