#!/usr/bin/env bash
# cost.sh: the steady figures beside bench.sh's noisy req/s. For each
# profile, a fixed number of requests (tests/bench/nreq: exactly N, every
# response checked) and:
#   - CPU time per request, summed over every process of the server
#     (utime + stime from /proc/PID/stat before and after, divided by N;
#     the clock ticks at 1/CLK_TCK s, so N is large enough for hundreds of
#     ticks), and context switches per request (voluntary + involuntary
#     from /proc/PID/task/*/status, every thread of the same processes);
#     the median of several runs;
#   - syscalls per request in each role (strace -c -f attached to every pid
#     of the role for one more run of N/4 requests, -s, divided by that count),
#     with the most frequent calls of each role.
# wsd's roles come from /proc: the daemon, its children (listener, manager
# by their titles) and the manager's children (workers). With --peers the
# same figures for nginx, lighttpd or h2o, configured as bench.sh does
# (tests/bench/peers.sh), one after the other, each stopped before the next
# starts: the master and its worker processes (h2o: one process, its
# threads). Under strace a role runs slower
# and may batch more per wake-up, so its counts are an upper bound of the
# untraced ones; CPU time is measured without strace.
#
# Nothing leaves 127.0.0.1; everything lives in one temporary directory,
# removed on exit; every server and strace started is stopped on exit,
# error or Ctrl-C. Exit status: 0 done; 1 a request failed; 2 usage or a
# missing tool; 3 a server did not start.
#
#   tests/bench/cost.sh [-n N] [-c CONNS] [-r RUNS] [-s DIV] [-w WORKERS]
#                       [--peers LIST | --nginx] [--profiles LIST] [--no-strace]
#                       [--wsd PATH] [--conf FILE]
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=40000
CONNS=64
RUNS=3
STRACE_DIV=4
WORKERS=$(nproc)
PEERS_WANTED=
STRACE=1
PROFILES_WANTED=ka-1k,close-1k,ka-64k,ka-1m,pipe-1k
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
EXTRA_CONF=

usage() {
	cat <<EOF
usage: $(basename "$0") [options]
  -n N             requests for the 1 KiB keep-alive and pipelined profiles
                   (default 40000; close and 64 KiB use N/2, 1 MiB N/20;
                   the strace run uses a quarter of each: see -s)
  -c N             connections (default 64; 1 MiB: 16)
  -r N             CPU runs per profile, median reported (default 3)
  -s N             the strace run makes 1/N of the requests (default 4)
  -w N             worker processes (default: nproc)
  --peers LIST     the same figures for these peers after wsd: a
                   comma-separated subset of nginx,lighttpd,h2o
  --nginx          the same as --peers nginx
  --no-strace      CPU and context switches only
  --profiles LIST  comma-separated subset of ka-1k,close-1k,ka-64k,ka-1m,pipe-1k
  --wsd PATH       wsd binary (default: \$WSD, else build/wsd; nreq next to it)
  --conf FILE      lines appended to wsd's configuration (e.g. "[http]" and
                   "park_after = 0s", to compare a setting's cost)
EOF
}
need_arg() {
	[[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "cost.sh: $1 needs a positive number" >&2; exit 2; }
}
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) need_arg "$@"; N=$2; shift ;;
	-c) need_arg "$@"; CONNS=$2; shift ;;
	-r) need_arg "$@"; RUNS=$2; shift ;;
	-s) need_arg "$@"; STRACE_DIV=$2; shift ;;
	-w) need_arg "$@"; WORKERS=$2; shift ;;
	--nginx) PEERS_WANTED=nginx ;;
	--peers) [[ $# -ge 2 ]] || exit 2; PEERS_WANTED=$2; shift ;;
	--no-strace) STRACE=0 ;;
	--profiles) [[ $# -ge 2 ]] || exit 2; PROFILES_WANTED=$2; shift ;;
	--wsd) [[ $# -ge 2 ]] || exit 2; WSD_BIN=$2; shift ;;
	--conf) [[ $# -ge 2 && -r $2 ]] || { echo "cost.sh: --conf needs a readable file" >&2; exit 2; }
		EXTRA_CONF=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "cost.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for p in ${PROFILES_WANTED//,/ }; do
	[[ $p =~ ^(ka-1k|close-1k|ka-64k|ka-1m|pipe-1k)$ ]] ||
		{ echo "cost.sh: unknown profile '$p'" >&2; exit 2; }
done
[[ -x $WSD_BIN ]] || { echo "cost.sh: no wsd at $WSD_BIN (build it, or --wsd PATH)" >&2; exit 2; }
NREQ=$(dirname "$WSD_BIN")/tests/nreq
[[ -x $NREQ ]] || { echo "cost.sh: no $NREQ (cmake --build build --target nreq)" >&2; exit 2; }
if ((STRACE)) && ! command -v strace >/dev/null; then
	echo "cost.sh: needs strace (apt-get install strace), or --no-strace" >&2
	exit 2
fi
TCK=$(getconf CLK_TCK)

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
# shellcheck source=SCRIPTDIR/peers.sh
. "$ROOT_DIR/tests/bench/peers.sh"
declare -A BIN CONF
PEERS=()
for p in ${PEERS_WANTED//,/ }; do
	[[ $p =~ ^(nginx|lighttpd|h2o)$ ]] || { echo "cost.sh: unknown peer '$p'" >&2; exit 2; }
	BIN[$p]=$(find_bin "$p")
	[[ -n ${BIN[$p]} ]] || { echo "cost.sh: $p is not installed (Debian package: $p)" >&2; exit 2; }
	PEERS+=("$p")
done
RUN_AS=""
[[ $(id -u) -ne 0 ]] || RUN_AS=nobody
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsd-cost.XXXXXX")
chmod 755 "$TMP"
STRACE_PIDS=()
# shellcheck disable=SC2317  # invoked by bench_traps
bench_cleanup_extra() {
	local p
	for p in "${STRACE_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
bench_traps

DOCROOT=$TMP/root
mkdir -m 755 "$DOCROOT"
for f in 1k:1024 64k:65536 1m:1048576; do
	head -c "${f#*:}" /dev/urandom >"$TMP/root/${f%%:*}.bin"
done
chmod 644 "$TMP/root"/*.bin

# --- servers -----------------------------------------------------------------

start_wsd() {
	wsd_start "$TMP/wsd" "$TMP/root" "[pool]
min = $WORKERS
max = $WORKERS
[log]
level = info
${EXTRA_CONF:+$(cat "$EXTRA_CONF")}" -w "$WORKERS:$WORKERS"
}

# start_peer NAME: configured as bench.sh does, on a free port; sets PEER_PID, PEER_PORT.
start_peer() {
	local name=$1 i
	PEER_PORT=$((20000 + RANDOM % 12000))
	CMD=()
	"conf_$name" "$PEER_PORT"
	setsid "${CMD[@]}" </dev/null >"$TMP/$name/out" 2>&1 &
	PEER_PID=$!
	BENCH_PIDS+=("$PEER_PID")
	for ((i = 0; i < 100; i++)); do
		curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PEER_PORT/1k.bin" 2>/dev/null &&
			return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "cost.sh: $name did not start:" >&2
	cat "$TMP/$name/out" "$TMP/$name/error.log" >&2 2>/dev/null
	exit 3
}

children() { ps -o pid= --ppid "$1" | tr -d ' '; }
# role_of PID -> the role named in wsd's process title ("wsd: listener")
role_of() { tr '\0' ' ' <"/proc/$1/cmdline" | sed -n 's/^wsd: \([a-z]*\).*/\1/p'; }

# roles SERVER -> "role pid pid..." lines
roles() {
	local c
	if [[ $1 == wsd ]]; then
		echo "daemon $WSD_PID"
		for c in $(children "$WSD_PID"); do
			echo "$(role_of "$c") $c"
			if [[ $(role_of "$c") == manager ]]; then
				echo "worker $(children "$c" | paste -sd' ')"
			fi
		done
	else
		echo "master $PEER_PID"
		c=$(children "$PEER_PID" | paste -sd' ')
		[[ -z $c ]] || echo "worker $c"
	fi
}

all_pids() { roles "$1" | cut -d' ' -f2- | tr ' ' '\n'; }

# ticks PIDS... -> utime + stime of all, in clock ticks; csw: context switches
ticks() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t"
}
csw() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(cat "/proc/$p"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}')))
	done
	echo "$t"
}

# --- profiles ------------------------------------------------------------------

# spec NAME -> "requests nreq-args path"
spec() {
	case $1 in
	ka-1k) echo "$N -c $CONNS|/1k.bin" ;;
	close-1k) echo "$((N / 2)) -c $CONNS -x|/1k.bin" ;;
	ka-64k) echo "$((N / 2)) -c $CONNS|/64k.bin" ;;
	ka-1m) echo "$((N / 20)) -c 16|/1m.bin" ;;
	pipe-1k) echo "$N -c $CONNS -d 16|/1k.bin" ;;
	esac
}

# nreq PORT COUNT ARGS PATH: exactly COUNT requests, or the script fails.
nreq() {
	local port=$1 count=$2 args=$3 path=$4
	# shellcheck disable=SC2086  # args are words
	if ! "$NREQ" -n "$count" $args "$port" "$path" >>"$TMP/nreq.log" 2>&1; then
		echo "cost.sh: requests failed: $(tail -n1 "$TMP/nreq.log")" >&2
		exit 1
	fi
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# cpu SERVER PORT PROFILE -> "µs/req (min-max) cs/req" over RUNS runs
cpu() {
	local server=$1 port=$2 count args path r t0 t1 c0 c1 pids us=() cs=()
	IFS='|' read -r count args path <<<"$(spec "$3" | sed 's/ /|/')"
	mapfile -t pids < <(all_pids "$server")
	nreq "$port" "$((count / 10 + 1))" "$args" "$path"   # warm-up
	for ((r = 0; r < RUNS; r++)); do
		t0=$(ticks "${pids[@]}") c0=$(csw "${pids[@]}")
		nreq "$port" "$count" "$args" "$path"
		t1=$(ticks "${pids[@]}") c1=$(csw "${pids[@]}")
		us+=("$(awk -v d=$((t1 - t0)) -v n="$count" -v k="$TCK" 'BEGIN {printf "%.1f", d * 1e6 / k / n}')")
		cs+=("$(awk -v d=$((c1 - c0)) -v n="$count" 'BEGIN {printf "%.2f", d / n}')")
	done
	printf '%s (%s-%s) %s\n' "$(printf '%s\n' "${us[@]}" | median)" \
		"$(printf '%s\n' "${us[@]}" | sort -g | head -n1)" \
		"$(printf '%s\n' "${us[@]}" | sort -g | tail -n1)" "$(printf '%s\n' "${cs[@]}" | median)"
}

# traced SERVER PORT PROFILE: one run of 1/STRACE_DIV of the requests with every
# role under strace -c; writes $TMP/strace.ROLE (the summaries), prints the
# request count.
traced() {
	local server=$1 port=$2 count args path role pids p i
	IFS='|' read -r count args path <<<"$(spec "$3" | sed 's/ /|/')"
	count=$((count / STRACE_DIV))
	STRACE_PIDS=()
	while read -r role pids; do
		local opts=()
		for p in $pids; do opts+=(-p "$p"); done
		strace -c -f -qq -o "$TMP/strace.$role" "${opts[@]}" 2>/dev/null &
		STRACE_PIDS+=($!)
	done < <(roles "$server")
	# Wait until every pid is traced (TracerPid set), at most 10 s.
	for p in $(all_pids "$server"); do
		for ((i = 0; i < 100; i++)); do
			[[ $(awk '/^TracerPid/ {print $2}' "/proc/$p/status") != 0 ]] && break
			sleep 0.1
		done
	done
	nreq "$port" "$count" "$args" "$path"
	for p in "${STRACE_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	STRACE_PIDS=()
	echo "$count"
}

# per_req FILE COUNT -> "total top-calls" from an strace -c summary
per_req() {
	awk -v n="$2" '
		/^-/ || /^% time/ || NF < 5 {next}
		$NF == "total" {total = $4; next}
		{ calls = $4; name = $NF; if (calls / n >= 0.005) top = top sprintf(" %s %.2f", name, calls / n) }
		END {printf "%.2f |%s\n", total / n, top}' "$1"
}

report() {
	local server=$1 port=$2 p line role count
	echo "$server: CPU µs per request summed over all its processes (median of $RUNS runs, min-max)," \
		"context switches per request"
	printf '  %-9s %9s %22s %8s\n' profile requests "CPU µs/req" "cs/req"
	for p in ${PROFILES_WANTED//,/ }; do
		cpu "$server" "$port" "$p" >"$TMP/cpu.out" # not in $(...): a failed request must end the script
		read -r us range cs <"$TMP/cpu.out"
		printf '  %-9s %9s %22s %8s\n' "$p" "$(spec "$p" | cut -d' ' -f1)" "$us $range" "$cs"
	done
	((STRACE)) || return 0
	echo
	echo "$server: syscalls per request per role (strace -c -f, 1/$STRACE_DIV of the requests; calls >= 0.005/req)"
	for p in ${PROFILES_WANTED//,/ }; do
		traced "$server" "$port" "$p" >"$TMP/count" # in this shell: STRACE_PIDS for the cleanup
		count=$(<"$TMP/count")
		while read -r role _; do
			line=$(per_req "$TMP/strace.$role" "$count")
			printf '  %-9s %-8s %6s/req:%s\n' "$p" "$role" "${line%% |*}" "${line#*|}"
		done < <(roles "$server")
	done
}

start_wsd
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine:  $(nproc) CPUs, Linux $(uname -r); CLK_TCK $TCK"
echo "wsd:      $("$WSD_BIN" --version 2>&1 | head -n1), $WSD_BIN" \
	"(built $(date -u -r "$WSD_BIN" '+%Y-%m-%d %H:%M UTC')), $WORKERS workers;" \
	"source at $(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "requests: N=$N (close, 64 KiB: N/2; 1 MiB: N/20), $CONNS connections (1 MiB: 16);" \
	"pipelined 16 deep; every response checked by $NREQ"
echo
report wsd "$WSD_PORT"
bench_stop "$WSD_PID" || true
for p in "${PEERS[@]}"; do
	start_peer "$p"
	echo
	printf '%-9s %s, %s workers or threads, configured as bench.sh does (%s)\n' "$p:" \
		"$(peer_version "$p")" "$WORKERS" "$(basename "${CONF[$p]}")"
	report "$p" "$PEER_PORT"
	bench_stop "$PEER_PID" || true
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
