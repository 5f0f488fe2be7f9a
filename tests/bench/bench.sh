#!/usr/bin/env bash
# shellcheck disable=SC2317  # conf_* and cleanup are called indirectly
# bench.sh: compare wsd with nginx, lighttpd, h2o and a "limit" server on
# loopback, using wrk.
#
# Every server serves the same document root (files of 1 KiB, 64 KiB and
# 1 MiB of random data) with the same number of worker processes or
# threads. The limit server (tests/bench/limit.c, built with wsd) answers
# every request with a canned 1 KiB response and parses nothing: the
# ceiling for this machine, measured on the 1 KiB profiles only. wrk runs
# five profiles against each server in turn, for several rounds; the order
# of the servers rotates from one round to the next so that noise on a
# shared machine is spread over all. Per profile, the tables give each
# server's median req/s, and the medians of wsd's per-round ratios to each
# peer, to the best peer of the round and to the limit server. A peer that
# is not installed is skipped with a line saying so.
#
# Nothing is installed and nothing leaves 127.0.0.1. Everything (document
# root, configurations, logs, pid files, temp paths) lives in one temporary
# directory that is removed on exit, and every server is stopped on exit,
# error or Ctrl-C. A sleeper notes the machine's own scheduling stalls
# (> 200 ms), printed with the tables, to tell noise from wsd.
#
# Exit status: 0 = done and wsd behaved; 1 = done, but wsd misbehaved
# (errors, non-2xx responses, a failed probe, log lines, bad exit status);
# 2 = a missing tool or a usage error; 3 = a server could not be started.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT_DIR/tests/bench

usage() {
	cat <<EOF
usage: $(basename "$0") [options]
  --quick           smoke run: 1 round of 2 s (same as -r 1 -d 2)
  -r, --rounds N    rounds per profile and server (default 5; a pass is >= 5)
  -d, --duration S  seconds per wrk run (default 5)
  -w, --workers N   worker processes/threads for every server (default: nproc)
  -t, --threads N   wrk threads (default 1)
  -c, --conns N     wrk connections, all profiles but 1 MiB (default 64)
  -b, --big-conns N wrk connections for the 1 MiB profile (default 16)
  --shapes          run both load shapes of issue 11, one after the other:
                    -t 1 -c 64 and -t 2 -c 50 (1 MiB: 16 connections each);
                    -t and -c are then ignored
  --peers LIST      comma-separated subset of nginx,lighttpd,h2o,limit
                    (default: all of them)
  --profiles LIST   comma-separated subset of ka-1k,close-1k,ka-64k,ka-1m,pipe-1k
  --wsd PATH        wsd binary (default: \$WSD, else $ROOT_DIR/build/wsd)
  --limit PATH      limit server (default: next to wsd, tests/limit)
  --keep            keep the temporary directory (raw wrk output, logs)
  -h, --help        this help
EOF
}

ROUNDS=5
DURATION=5
WORKERS=$(nproc)
THREADS=1
CONNS=64
BIG_CONNS=16
SHAPES=""
PEERS_WANTED=nginx,lighttpd,h2o,limit
PROFILES_WANTED=ka-1k,close-1k,ka-64k,ka-1m,pipe-1k
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
LIMIT_BIN=""
KEEP=0

need_arg() {
	if [[ $# -lt 2 || ! $2 =~ ^[1-9][0-9]*$ ]]; then
		echo "bench.sh: $1 needs a positive whole number" >&2
		exit 2
	fi
}
need_str() {
	[[ $# -ge 2 ]] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) ROUNDS=1 DURATION=2 ;;
	-r | --rounds) need_arg "$@"; ROUNDS=$2; shift ;;
	-d | --duration) need_arg "$@"; DURATION=$2; shift ;;
	-w | --workers) need_arg "$@"; WORKERS=$2; shift ;;
	-t | --threads) need_arg "$@"; THREADS=$2; shift ;;
	-c | --conns) need_arg "$@"; CONNS=$2; shift ;;
	-b | --big-conns) need_arg "$@"; BIG_CONNS=$2; shift ;;
	--shapes) SHAPES=both ;;
	--peers) need_str "$@"; PEERS_WANTED=$2; shift ;;
	--profiles) need_str "$@"; PROFILES_WANTED=$2; shift ;;
	--wsd) need_str "$@"; WSD_BIN=$2; shift ;;
	--limit) need_str "$@"; LIMIT_BIN=$2; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [[ $SHAPES == both ]]; then
	SHAPES="1:64:$BIG_CONNS 2:50:$BIG_CONNS"
else
	SHAPES="$THREADS:$CONNS:$BIG_CONNS"
fi
for p in ${PEERS_WANTED//,/ }; do
	[[ $p =~ ^(nginx|lighttpd|h2o|limit)$ ]] ||
		{ echo "bench.sh: unknown peer '$p'" >&2; exit 2; }
done
for p in ${PROFILES_WANTED//,/ }; do
	[[ $p =~ ^(ka-1k|close-1k|ka-64k|ka-1m|pipe-1k)$ ]] ||
		{ echo "bench.sh: unknown profile '$p'" >&2; exit 2; }
done

# --- tools -----------------------------------------------------------------

missing=()
command -v wrk >/dev/null 2>&1 || missing+=("wrk (Debian package: wrk)")
command -v curl >/dev/null 2>&1 || missing+=("curl (Debian package: curl)")
for t in setsid timeout; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t (Debian package: util-linux / coreutils)")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "bench.sh: missing tools:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	echo "install them with, for example:  sudo apt-get install wrk curl" >&2
	exit 2
fi
if [[ ! -x $WSD_BIN ]]; then
	echo "bench.sh: no wsd binary at $WSD_BIN" >&2
	echo "build it:  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build" >&2
	echo "or point at one with --wsd PATH (or WSD=PATH)" >&2
	exit 2
fi
WSD_BIN=$(cd "$(dirname "$WSD_BIN")" && pwd)/$(basename "$WSD_BIN")
[[ -n $LIMIT_BIN ]] || LIMIT_BIN=$(dirname "$WSD_BIN")/tests/limit

# shellcheck source=SCRIPTDIR/peers.sh
. "$ROOT_DIR/tests/bench/peers.sh"
declare -A BIN
PEERS=()
for p in ${PEERS_WANTED//,/ }; do
	if [[ $p == limit ]]; then
		b=$LIMIT_BIN
		[[ -x $b ]] || b=""
	else
		b=$(find_bin "$p")
	fi
	if [[ -z $b ]]; then
		if [[ $p == limit ]]; then
			echo "bench.sh: skipping limit: no $LIMIT_BIN (cmake --build build --target limit)" >&2
		else
			echo "bench.sh: skipping $p: not installed (Debian package: $p)" >&2
		fi
		continue
	fi
	BIN[$p]=$b
	PEERS+=("$p")
done

# --- temporary directory and cleanup ---------------------------------------

declare -A PID PORT VERSION
STALL_PID=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsd-bench.XXXXXX")
chmod 755 "$TMP"   # the servers' workers run as nobody when we are root

# Stop one server started with setsid (so its pid is also its process
# group): SIGTERM, a bounded wait, then SIGKILL to the whole group.
stop_server() {
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "bench.sh: $name (pid $pid) ignored SIGTERM for 15 s: SIGKILL" >&2
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
	fi
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	# Anything left in its group (an orphaned worker) goes too.
	kill -KILL -- "-$pid" 2>/dev/null || true
	return "$rc"
}

# shellcheck disable=SC2317  # invoked from the EXIT trap
cleanup() {
	local rc=$? s
	trap - EXIT INT TERM
	if [[ -n $STALL_PID ]]; then
		kill "$STALL_PID" 2>/dev/null || true
		wait "$STALL_PID" 2>/dev/null || true
	fi
	for s in "${!PID[@]}"; do
		stop_server "${PID[$s]}" "$s" || true
	done
	if ((KEEP)); then
		echo "bench.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '%s\n' "$*" >&2; }

PROBLEMS=()
problem() {
	PROBLEMS+=("$*")
	log "  !! wsd: $*"
}

# --- document root -----------------------------------------------------------

DOCROOT=$TMP/root
mkdir -m 755 "$DOCROOT"
head -c 1024 /dev/urandom >"$DOCROOT/1k.bin"
head -c 65536 /dev/urandom >"$DOCROOT/64k.bin"
head -c 1048576 /dev/urandom >"$DOCROOT/1m.bin"
chmod 644 "$DOCROOT"/*.bin
mkdir "$TMP/raw"
RUN_AS=""   # the unprivileged user the peers switch to when we are root
if [[ $(id -u) -eq 0 ]]; then
	RUN_AS=nobody
fi

# --- wsd ---------------------------------------------------------------------

# The "ready" line is logged at info level, and at info level wsd logs
# nothing per request (only start, stop and pool changes), so info costs
# the same as warn here. Every line logged after "ready" is reported.
WSD_LOG=$TMP/wsd.log
mkdir "$TMP/wsd"
cat >"$TMP/wsd/wsd.ini" <<EOF
[server]
listen = 127.0.0.1:0
root = $DOCROOT
shutdown_timeout = 2s

[pool]
min = $WORKERS
max = $WORKERS

[log]
level = info
file = $WSD_LOG

[control]
socket = $TMP/wsd-ctl.sock
EOF

: >"$WSD_LOG"
setsid "$WSD_BIN" -c "$TMP/wsd/wsd.ini" -w "$WORKERS:$WORKERS" \
	</dev/null >"$TMP/wsd.out" 2>&1 &
PID[wsd]=$!

for ((i = 0; i < 150; i++)); do   # up to 15 s
	line=$(grep -m1 ' ready: serving ' "$WSD_LOG" || true)
	if [[ $line =~ http://127\.0\.0\.1:([0-9]+)/ ]]; then
		PORT[wsd]=${BASH_REMATCH[1]}
		break
	fi
	kill -0 "${PID[wsd]}" 2>/dev/null || break
	sleep 0.1
done
if [[ -z ${PORT[wsd]:-} ]]; then
	log "bench.sh: wsd did not become ready; its output and log:"
	cat "$TMP/wsd.out" "$WSD_LOG" >&2
	exit 3
fi
WSD_LOG_LINES=$(wc -l <"$WSD_LOG")
VERSION[wsd]=$("$WSD_BIN" --version 2>&1 | head -n1 || true)

# --- peers -------------------------------------------------------------------

# A peer's own directory, writable by the user it switches to (some open
# their logs after dropping privileges).
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_peer NAME PORT: configure, start under setsid, wait until it answers.
declare -A CONF
start_peer() {
	local name=$1 port=$2 i
	CMD=()
	"conf_$name" "$port"
	setsid "${CMD[@]}" </dev/null >"$TMP/$name/out" 2>&1 &
	PID[$name]=$!
	for ((i = 0; i < 100; i++)); do   # up to 10 s
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/1k.bin" 2>/dev/null; then
			PORT[$name]=$port
			return 0
		fi
		kill -0 "${PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	stop_server "${PID[$name]}" "$name" || true
	unset "PID[$name]"
	return 1
}

# A port below the ephemeral range, so wrk's own client ports never take it.
for p in "${PEERS[@]}"; do
	for ((attempt = 0; attempt < 10; attempt++)); do
		port=$((20000 + RANDOM % 12000))
		[[ " ${PORT[*]} " != *" $port "* ]] || continue
		port_in_use "$port" && continue
		start_peer "$p" "$port" && break
	done
	if [[ -z ${PORT[$p]:-} ]]; then
		log "bench.sh: $p did not start; its output and error log:"
		cat "$TMP/$p/out" "$TMP/$p/error.log" >&2 2>/dev/null || true
		exit 3
	fi
	VERSION[$p]=$(peer_version "$p")
done
SERVERS=(wsd "${PEERS[@]}")
REAL_PEERS=()   # the peers a user would pick instead (not limit)
for p in "${PEERS[@]}"; do [[ $p == limit ]] || REAL_PEERS+=("$p"); done

# --- check that all serve the right bytes ------------------------------------

for s in "${SERVERS[@]}"; do
	for f in 1k.bin 64k.bin 1m.bin; do
		[[ $s != limit ]] || continue   # canned bytes, checked by size below
		if ! curl -fsS --max-time 10 -o "$TMP/check" "http://127.0.0.1:${PORT[$s]}/$f" ||
			! cmp -s "$TMP/check" "$DOCROOT/$f"; then
			log "bench.sh: $s does not serve $f correctly"
			[[ $s == wsd ]] && cat "$WSD_LOG" >&2
			exit 3
		fi
	done
done
if [[ -n ${PORT[limit]:-} ]] &&
	[[ $(curl -fsS --max-time 10 "http://127.0.0.1:${PORT[limit]}/1k.bin" | wc -c) -ne 1024 ]]; then
	log "bench.sh: limit does not answer with 1 KiB"
	exit 3
fi
rm -f "$TMP/check"

# --- environment -------------------------------------------------------------

# What the source tree is at; the script cannot know what the binary was
# built from, so its modification time is shown as well.
commit=$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT_DIR" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	commit="$commit, with uncommitted changes"
fi
built=$(date -u -r "$WSD_BIN" '+%Y-%m-%d %H:%M UTC')
cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//' || true)
{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine:  $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "wsd:      ${VERSION[wsd]}, $WSD_BIN (built $built), port ${PORT[wsd]}"
	echo "source:   $ROOT_DIR at $commit"
	for p in "${PEERS[@]}"; do
		printf '%-9s %s, %s, port %s\n' "$p:" "${VERSION[$p]}" "${BIN[$p]}" "${PORT[$p]}"
	done
	echo "wrk:      $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
	echo "settings: $WORKERS workers/threads each; shapes (wrk threads:conns:1 MiB conns)" \
		"$SHAPES; -d ${DURATION}s; $ROUNDS round(s)"
	echo
	echo "configurations (document root $DOCROOT):"
	for s in "${SERVERS[@]}"; do
		if [[ $s == wsd ]]; then f=$TMP/wsd/wsd.ini; else f=${CONF[$s]}; fi
		echo "  --- $s ($f)"
		grep -v '^[[:space:]]*$' "$f" | sed 's/^/    /'
	done
} | tee "$TMP/env.txt"
# wsd gives a worker at most pool.max_workload (default 512) connections
# and, with a fixed pool, queues the rest without serving them; wrk does
# not count requests that never complete, so such a run would only look
# slower, not fail.
for shape in $SHAPES; do
	c=$(cut -d: -f2 <<<"$shape")
	if ((c > WORKERS * 512)); then
		echo "note:     $c connections > $WORKERS workers x 512 (max_workload):" \
			"wsd leaves the excess queued, unserved, and wrk does not count them as errors"
	fi
done
echo

# --- machine stalls ----------------------------------------------------------

# On a shared host a process can go unscheduled for a long time. A sleeper
# notes every wake-up more than 200 ms late, so the figures (and anything
# wsd's hang detection does) can be read against the machine's own stalls.
stall_watch() {
	local prev now late
	prev=${EPOCHREALTIME/./}
	while :; do
		sleep 0.05
		now=${EPOCHREALTIME/./}
		late=$(((now - prev) / 1000 - 50))
		if ((late > 200)); then
			echo "$(date -u +%H:%M:%S) $late" >>"$TMP/stalls"
		fi
		prev=$now
	done
}
: >"$TMP/stalls"
stall_watch &
STALL_PID=$!

# --- benchmark ---------------------------------------------------------------

RESULTS=$TMP/results   # shape profile server round rps socket_errors non2xx
: >"$RESULTS"

# profile_spec NAME CONNS BIG_CONNS -> "name|path|connections|kind"
profile_spec() {
	case $1 in
	ka-1k) echo "ka-1k|/1k.bin|$2|" ;;
	close-1k) echo "close-1k|/1k.bin|$2|close" ;;
	ka-64k) echo "ka-64k|/64k.bin|$2|" ;;
	ka-1m) echo "ka-1m|/1m.bin|$3|" ;;
	pipe-1k) echo "pipe-1k|/1k.bin|$2|pipe" ;;
	esac
}

# run_wrk SHAPE SERVER PROFILE-SPEC ROUND SECONDS -> one line in $RESULTS
run_wrk() {
	local shape=$1 server=$2 spec=$3 round=$4 secs=$5
	local name path conns kind threads port=${PORT[$2]}
	IFS='|' read -r name path conns kind <<<"$spec"
	threads=${shape%%:*}
	((threads <= conns)) || threads=$conns   # wrk wants connections >= threads
	local out=$TMP/raw/$shape-$round-$name-$server.txt
	local args=(-t "$threads" -c "$conns" -d "${secs}s" --latency) tail=()
	case $kind in
	close) args+=(-H "Connection: close") ;;
	pipe) args+=(-s "$BENCH_DIR/pipeline.lua") tail=(-- 16) ;;
	esac
	local rc=0
	timeout -k 5 $((secs + 30)) wrk "${args[@]}" "http://127.0.0.1:$port$path" "${tail[@]}" \
		>"$out" 2>&1 || rc=$?
	local rps errs non2xx
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	errs=$(sed -n 's/^ *Socket errors: //p' "$out" | tr -d ',' |
		awk '{print $1"="$2","$3"="$4","$5"="$6","$7"="$8}')
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	[[ -n $rps ]] || rps=0
	[[ -n $errs ]] || errs=-
	[[ -n $non2xx ]] || non2xx=0
	if [[ $round != warmup ]]; then
		echo "$shape $name $server $round $rps $errs $non2xx" >>"$RESULTS"
	fi
	printf '  %-9s round %-6s %-9s %-9s %12s req/s  errors %s  non-2xx %s\n' \
		"$shape" "$round" "$name" "$server" "$rps" "$errs" "$non2xx" >&2
	if [[ $server == wsd ]]; then
		((rc == 0)) || problem "wrk exited with status $rc on $name (round $round): see $out"
		[[ $errs == - ]] || problem "socket errors on $name, $shape (round $round): $errs"
		[[ $non2xx == 0 ]] || problem "$non2xx non-2xx responses on $name, $shape (round $round)"
		if ! kill -0 "${PID[wsd]}" 2>/dev/null; then
			problem "the wsd daemon is gone after $name (round $round)"
			exit 1
		fi
		if ! curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/1k.bin"; then
			problem "no answer to a plain GET after $name (round $round)"
		fi
	fi
}

# The limit server answers 1 KiB whatever the path: 1 KiB profiles only.
serves() { [[ $1 != limit || $2 == *-1k ]]; }

for shape in $SHAPES; do
	IFS=: read -r _ c bc <<<"$shape"
	specs=()
	for p in ${PROFILES_WANTED//,/ }; do specs+=("$(profile_spec "$p" "$c" "$bc")"); done
	log "shape $shape: warm-up (1 s each, not counted)"
	for s in "${SERVERS[@]}"; do run_wrk "$shape" "$s" "${specs[0]}" warmup 1; done
	for ((r = 1; r <= ROUNDS; r++)); do
		# Rotate the order by one server per round, and reverse it every
		# other round, so no server always follows the same one.
		n=${#SERVERS[@]} order=()
		for ((i = 0; i < n; i++)); do order+=("${SERVERS[$(((i + r - 1) % n))]}"); done
		if ((r % 2 == 0)); then
			for ((i = 0; i < n / 2; i++)); do
				t=${order[i]} order[i]=${order[n - 1 - i]} order[n - 1 - i]=$t
			done
		fi
		for spec in "${specs[@]}"; do
			for s in "${order[@]}"; do
				serves "$s" "${spec%%|*}" || continue
				run_wrk "$shape" "$s" "$spec" "$r" "$DURATION"
			done
		done
	done
done

# --- tables ------------------------------------------------------------------

median() {
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f\n", m }'
}

# ratios SHAPE PROFILE WHAT -> wsd's per-round ratio to WHAT (a server, or
# "best" = the best real peer of that round), one per line
ratios() {
	awk -v sh="$1" -v n="$2" -v what="$3" -v peers="${REAL_PEERS[*]}" '
		$1 == sh && $2 == n {v[$3 " " $4] = $5; rounds[$4] = 1}
		END {
			np = split(peers, p, " ")
			for (r in rounds) {
				d = 0
				if (what == "best") {
					for (i = 1; i <= np; i++) if (v[p[i] " " r] > d) d = v[p[i] " " r]
				} else d = v[what " " r]
				if (d > 0 && ((("wsd " r) in v))) print v["wsd " r] / d
			}
		}' "$RESULTS"
}

print_tables() {
	local shape=$1 name s cols=() h
	cols=("${PEERS[@]}")
	[[ ${#REAL_PEERS[@]} -eq 0 ]] || cols+=(best)
	echo "shape $shape (wrk threads:conns:1 MiB conns), medians of $ROUNDS round(s):"
	printf '  %-9s' profile
	for s in "${SERVERS[@]}"; do printf ' %10s' "$s"; done
	printf '   |'
	for h in "${cols[@]}"; do printf ' %11s' "wsd/$h"; done
	echo
	for p in ${PROFILES_WANTED//,/ }; do
		printf '  %-9s' "$p"
		for s in "${SERVERS[@]}"; do
			printf ' %10s' "$(awk -v sh="$shape" -v n="$p" -v s="$s" \
				'$1 == sh && $2 == n && $3 == s {print $5}' "$RESULTS" | median |
				awk '{print ($1 == "-") ? "-" : int($1 + 0.5)}')"
		done
		printf '   |'
		for h in "${cols[@]}"; do printf ' %11s' "$(ratios "$shape" "$p" "$h" | median)"; done
		echo
	done
	local errs
	errs=$(awk -v sh="$shape" '$1 == sh && $6 != "-" {print $3 " " $2 " r" $4 ": " $6}' "$RESULTS")
	echo "  socket errors: ${errs:-none}" | sed '2,$s/^/    /'
	echo
}

echo
for shape in $SHAPES; do print_tables "$shape"; done
((ROUNDS >= 5)) || echo "note: $ROUNDS round(s): a smoke run, not a pass (a pass is the median of >= 5)"

if [[ -s $TMP/stalls ]]; then
	echo "machine stalls (a sleeper woke > 200 ms late): $(wc -l <"$TMP/stalls")," \
		"longest $(sort -k2 -n "$TMP/stalls" | tail -n1 | awk '{print $2}') ms; at (UTC, ms late):" \
		"$(head -n 20 "$TMP/stalls" | paste -sd' ')"
else
	echo "machine stalls (a sleeper woke > 200 ms late): none"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- wsd health --------------------------------------------------------------

# Any line logged after "ready" is unexpected with a fixed pool: a warning,
# or a process that was replaced. Shown once, with the lines themselves.
bench_lines=$(($(wc -l <"$WSD_LOG") - WSD_LOG_LINES))
if ((bench_lines > 0)); then
	tail -n +"$((WSD_LOG_LINES + 1))" "$WSD_LOG" >"$TMP/wsd-bench.log"
	nwarn=$(grep -cE ' (warn|error|fatal) ' "$TMP/wsd-bench.log" || true)
	problem "wsd logged $bench_lines line(s) under load, $nwarn at warn or above (first 30 below)"
	head -n 30 "$TMP/wsd-bench.log" | sed 's/^/     /' >&2
fi
WSD_LOG_LINES=$(wc -l <"$WSD_LOG")

pid=${PID[wsd]}
unset "PID[wsd]"
wsd_rc=0
stop_server "$pid" wsd || wsd_rc=$?
((wsd_rc == 0)) || problem "wsd exited with status $wsd_rc on SIGTERM (expected 0)"
if tail -n +"$((WSD_LOG_LINES + 1))" "$WSD_LOG" | grep -Eq ' (warn|error|fatal) '; then
	problem "warn/error lines in the wsd log while stopping (first 10 below)"
	tail -n +"$((WSD_LOG_LINES + 1))" "$WSD_LOG" | grep -E ' (warn|error|fatal) ' |
		head -n 10 | sed 's/^/     /' >&2
fi

echo
if [[ ${#PROBLEMS[@]} -eq 0 ]]; then
	echo "wsd: no errors, no non-2xx responses, nothing logged under load, clean exit"
	exit 0
fi
echo "wsd problems:"
printf '  - %s\n' "${PROBLEMS[@]}"
exit 1
