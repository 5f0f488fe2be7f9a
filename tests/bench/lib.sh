# lib.sh: what the bench scripts share, sourced (not run) by them: start
# wsd on a free loopback port from a directory of its own, and stop it.
#
#   wsd_start DIR ROOT [EXTRA [ARG...]]
#       writes DIR/wsd.conf ([server] listen = 127.0.0.1:0 and root = ROOT,
#       [log] file = DIR/wsd.log, [control] socket = DIR/ctl.sock, then the
#       text EXTRA: more sections, or these again), starts
#       `setsid $WSD_BIN -c DIR/wsd.conf ARG...` (its output in DIR/wsd.out),
#       waits up to 15 s for the log's ' ready: serving ' line and sets
#       WSD_PID and WSD_PORT from it; if wsd exits or does not get there,
#       prints its output and log and exits 3.
#   bench_stop PID
#       SIGTERM, up to 10 s for it to exit, then SIGKILL to what is left of
#       its process group; returns its exit status.
#   bench_stop_all
#       bench_stop for every server in BENCH_PIDS (wsd_start adds each wsd;
#       a script adds any other server it starts): for the EXIT trap.
#   bench_traps
#       on exit, error or Ctrl-C: the caller's bench_cleanup_extra if it
#       defines one, bench_stop_all, then removes $TMP; the exit status kept.
#
# The caller sets WSD_BIN and `set -euo pipefail`.
# shellcheck shell=bash disable=SC2034  # WSD_PID and WSD_PORT are for the caller

BENCH_PIDS=()
WSD_PID=""
WSD_PORT=""

wsd_start() {
	local dir=$1 root=$2 extra=${3:-} i line
	shift $(($# < 3 ? $# : 3))
	mkdir -p "$dir"
	cat >"$dir/wsd.conf" <<CONF
[server]
listen = 127.0.0.1:0
root = $root
[log]
file = $dir/wsd.log
[control]
socket = $dir/ctl.sock
$extra
CONF
	setsid "$WSD_BIN" -c "$dir/wsd.conf" "$@" </dev/null >"$dir/wsd.out" 2>&1 &
	WSD_PID=$!
	BENCH_PIDS+=("$WSD_PID")
	for ((i = 0; i < 150; i++)); do
		line=$(grep -m1 ' ready: serving ' "$dir/wsd.log" 2>/dev/null || true)
		if [[ $line =~ http://127\.0\.0\.1:([0-9]+)/ ]]; then
			WSD_PORT=${BASH_REMATCH[1]}
			return 0
		fi
		kill -0 "$WSD_PID" 2>/dev/null || break # it exited (a config error)
		sleep 0.1
	done
	echo "$(basename "$0"): wsd did not start:" >&2
	cat "$dir/wsd.out" "$dir/wsd.log" >&2 2>/dev/null || true
	exit 3
}

bench_stop() {
	local pid=$1 rc=0 i p keep=()
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	for p in "${BENCH_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
	return "$rc"
}

bench_stop_all() {
	local p
	for p in "${BENCH_PIDS[@]}"; do bench_stop "$p" || true; done
}

# shellcheck disable=SC2317  # invoked from the EXIT trap
bench_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	! declare -F bench_cleanup_extra >/dev/null || bench_cleanup_extra || true
	bench_stop_all
	[[ -z ${TMP:-} ]] || rm -rf "$TMP"
	exit "$rc"
}

bench_traps() {
	trap bench_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
