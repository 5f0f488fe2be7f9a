#!/usr/bin/env bash
# bench.sh: compare wsd with nginx on loopback, using wrk.
#
# Both servers serve the same document root (files of 1 KiB, 64 KiB and
# 1 MiB of random data) with the same number of worker processes. wrk runs
# four profiles against each server in turn, for several rounds; the order
# of the two servers alternates from one round to the next so that noise on
# a shared machine is spread over both. The table gives the median req/s of
# the rounds and the median of the per-round wsd/nginx ratios.
#
# Nothing is installed and nothing leaves 127.0.0.1. Everything (document
# root, configurations, logs, pid files, nginx temp paths) lives in one
# temporary directory that is removed on exit, and both servers are stopped
# on exit, error or Ctrl-C. A sleeper notes the machine's own scheduling
# stalls (> 200 ms), printed with the table, to tell noise from wsd.
#
# Exit status: 0 = done and wsd behaved; 1 = done, but wsd misbehaved
# (errors, non-2xx responses, a failed probe, log lines, bad exit status);
# 2 = a missing tool or a usage error; 3 = a server could not be started.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() {
	cat <<EOF
usage: $(basename "$0") [options]
  --quick           smoke run: 1 round of 2 s (same as -r 1 -d 2)
  -r, --rounds N    rounds per profile and server (default 3)
  -d, --duration S  seconds per wrk run (default 5)
  -w, --workers N   worker processes for both servers (default: nproc)
  -t, --threads N   wrk threads (default 2)
  -c, --conns N     wrk connections for the 1 KiB and 64 KiB profiles
                    (default 50; the 1 MiB profile uses N/5, at least 2)
  --wsd PATH        wsd binary (default: \$WSD, else $ROOT_DIR/build/wsd)
  --keep            keep the temporary directory (raw wrk output, logs)
  -h, --help        this help
EOF
}

ROUNDS=3
DURATION=5
WORKERS=$(nproc)
THREADS=2
CONNS=50
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
KEEP=0

need_arg() {
	if [[ $# -lt 2 || ! $2 =~ ^[1-9][0-9]*$ ]]; then
		echo "bench.sh: $1 needs a positive whole number" >&2
		exit 2
	fi
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) ROUNDS=1 DURATION=2 ;;
	-r | --rounds) need_arg "$@"; ROUNDS=$2; shift ;;
	-d | --duration) need_arg "$@"; DURATION=$2; shift ;;
	-w | --workers) need_arg "$@"; WORKERS=$2; shift ;;
	-t | --threads) need_arg "$@"; THREADS=$2; shift ;;
	-c | --conns) need_arg "$@"; CONNS=$2; shift ;;
	--wsd)
		[[ $# -ge 2 ]] || { echo "bench.sh: --wsd needs a path" >&2; exit 2; }
		WSD_BIN=$2; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

BIG_CONNS=$((CONNS / 5))
((BIG_CONNS >= 2)) || BIG_CONNS=2
((THREADS <= CONNS)) || THREADS=$CONNS   # wrk wants connections >= threads
((THREADS <= BIG_CONNS)) || BIG_CONNS=$THREADS

# --- tools -----------------------------------------------------------------

missing=()
command -v wrk >/dev/null 2>&1 || missing+=("wrk (Debian package: wrk)")
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
	missing+=("nginx (Debian package: nginx-light or nginx)")
fi
command -v curl >/dev/null 2>&1 || missing+=("curl (Debian package: curl)")
for t in setsid timeout; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t (Debian package: util-linux / coreutils)")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "bench.sh: missing tools:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	echo "install them with, for example:  sudo apt-get install wrk nginx-light curl" >&2
	exit 2
fi
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $WSD_BIN ]]; then
	echo "bench.sh: no wsd binary at $WSD_BIN" >&2
	echo "build it:  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build" >&2
	echo "or point at one with --wsd PATH (or WSD=PATH)" >&2
	exit 2
fi
WSD_BIN=$(cd "$(dirname "$WSD_BIN")" && pwd)/$(basename "$WSD_BIN")

# --- temporary directory and cleanup ---------------------------------------

WSD_PID=""
NGINX_PID=""
STALL_PID=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsd-bench.XXXXXX")
chmod 755 "$TMP"   # wsd and nginx workers run as nobody when we are root

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
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $STALL_PID ]]; then
		kill "$STALL_PID" 2>/dev/null || true
		wait "$STALL_PID" 2>/dev/null || true
	fi
	stop_server "$WSD_PID" wsd || true
	stop_server "$NGINX_PID" nginx || true
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

# --- wsd ---------------------------------------------------------------------

# The "ready" line is logged at info level, and at info level wsd logs
# nothing per request (only start, stop and pool changes), so info costs
# the same as warn here. Every line logged after "ready" is reported.
WSD_LOG=$TMP/wsd.log
cat >"$TMP/wsd.ini" <<EOF
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
setsid "$WSD_BIN" -c "$TMP/wsd.ini" -w "$WORKERS:$WORKERS" \
	</dev/null >"$TMP/wsd.out" 2>&1 &
WSD_PID=$!

WSD_PORT=""
for ((i = 0; i < 150; i++)); do   # up to 15 s
	line=$(grep -m1 ' ready: serving ' "$WSD_LOG" || true)
	if [[ $line =~ http://127\.0\.0\.1:([0-9]+)/ ]]; then
		WSD_PORT=${BASH_REMATCH[1]}
		break
	fi
	if ! kill -0 "$WSD_PID" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [[ -z $WSD_PORT ]]; then
	log "bench.sh: wsd did not become ready; its output and log:"
	cat "$TMP/wsd.out" "$WSD_LOG" >&2
	exit 3
fi
WSD_LOG_LINES=$(wc -l <"$WSD_LOG")

# --- nginx -------------------------------------------------------------------

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

NGX=$TMP/nginx
mkdir -p "$NGX/tmp"
NGINX_USER=""
if [[ $(id -u) -eq 0 ]]; then
	NGINX_USER="user nobody $(id -gn nobody);"
fi

start_nginx() {
	local port=$1
	cat >"$NGX/nginx.conf" <<EOF
$NGINX_USER
worker_processes $WORKERS;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;

    server {
        listen 127.0.0.1:$port;
        root $DOCROOT;
    }
}
EOF
	setsid "$NGINX_BIN" -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf" \
		</dev/null >"$NGX/out" 2>&1 &
	NGINX_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do   # up to 10 s
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/1k.bin" 2>/dev/null; then
			return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_server "$NGINX_PID" nginx || true
	NGINX_PID=""
	return 1
}

# A port below the ephemeral range, so wrk's own client ports never take it.
NGINX_PORT=""
for ((attempt = 0; attempt < 10; attempt++)); do
	port=$((20000 + RANDOM % 12000))
	[[ $port -ne $WSD_PORT ]] || continue
	port_in_use "$port" && continue
	if start_nginx "$port"; then
		NGINX_PORT=$port
		break
	fi
done
if [[ -z $NGINX_PORT ]]; then
	log "bench.sh: nginx did not start; its output and error log:"
	cat "$NGX/out" "$NGX/error.log" >&2 2>/dev/null || true
	exit 3
fi

# --- check that both serve the right bytes -----------------------------------

for f in 1k.bin 64k.bin 1m.bin; do
	for s in wsd nginx; do
		if [[ $s == wsd ]]; then p=$WSD_PORT; else p=$NGINX_PORT; fi
		if ! curl -fsS --max-time 10 -o "$TMP/check" "http://127.0.0.1:$p/$f" ||
			! cmp -s "$TMP/check" "$DOCROOT/$f"; then
			log "bench.sh: $s does not serve $f correctly"
			[[ $s == wsd ]] && cat "$WSD_LOG" >&2
			exit 3
		fi
	done
done
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
	echo "machine:  $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "wsd:      $WSD_BIN (built $built), port $WSD_PORT"
	echo "source:   $ROOT_DIR at $commit"
	echo "nginx:    $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), port $NGINX_PORT"
	echo "wrk:      $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
	echo "settings: $WORKERS workers each; wrk -t $THREADS -c $CONNS (1 MiB: -c $BIG_CONNS)" \
		"-d ${DURATION}s; $ROUNDS round(s)"
} | tee "$TMP/env.txt"
# wsd gives a worker at most pool.max_workload (default 512) connections
# and, with a fixed pool, queues the rest without serving them; wrk does
# not count requests that never complete, so such a run would only look
# slower, not fail.
if ((CONNS > WORKERS * 512)); then
	echo "note:     $CONNS connections > $WORKERS workers x 512 (max_workload):" \
		"wsd leaves the excess queued, unserved, and wrk does not count them as errors"
fi
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

# name | path | connections | extra header
PROFILES=(
	"ka-1k|/1k.bin|$CONNS|"
	"close-1k|/1k.bin|$CONNS|Connection: close"
	"ka-64k|/64k.bin|$CONNS|"
	"ka-1m|/1m.bin|$BIG_CONNS|"
)

RESULTS=$TMP/results   # profile server round rps socket_errors non2xx
: >"$RESULTS"

# run_wrk SERVER PORT PROFILE ROUND SECONDS -> one line in $RESULTS
run_wrk() {
	local server=$1 port=$2 spec=$3 round=$4 secs=$5
	local name path conns header
	IFS='|' read -r name path conns header <<<"$spec"
	local out=$TMP/raw/$round-$name-$server.txt
	local args=(-t "$THREADS" -c "$conns" -d "${secs}s" --latency)
	[[ -z $header ]] || args+=(-H "$header")
	local rc=0
	timeout -k 5 $((secs + 30)) wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$out" 2>&1 || rc=$?
	local rps errs non2xx
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	errs=$(sed -n 's/^ *Socket errors: //p' "$out" | tr -d ',' |
		awk '{print $1"="$2","$3"="$4","$5"="$6","$7"="$8}')
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	[[ -n $rps ]] || rps=0
	[[ -n $errs ]] || errs=-
	[[ -n $non2xx ]] || non2xx=0
	if [[ $round != warmup ]]; then
		echo "$name $server $round $rps $errs $non2xx" >>"$RESULTS"
	fi
	printf '  round %-6s %-9s %-5s %12s req/s  errors %s  non-2xx %s\n' \
		"$round" "$name" "$server" "$rps" "$errs" "$non2xx" >&2
	if [[ $server == wsd ]]; then
		((rc == 0)) || problem "wrk exited with status $rc on $name (round $round): see $out"
		[[ $errs == - ]] || problem "socket errors on $name (round $round): $errs"
		[[ $non2xx == 0 ]] || problem "$non2xx non-2xx responses on $name (round $round)"
		if ! kill -0 "$WSD_PID" 2>/dev/null; then
			problem "the wsd daemon is gone after $name (round $round)"
			exit 1
		fi
		if ! curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/1k.bin"; then
			problem "no answer to a plain GET after $name (round $round)"
		fi
	fi
}

log "warm-up (1 s each, not counted)"
run_wrk wsd "$WSD_PORT" "${PROFILES[0]}" warmup 1
run_wrk nginx "$NGINX_PORT" "${PROFILES[0]}" warmup 1

for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(wsd nginx); else order=(nginx wsd); fi
	for spec in "${PROFILES[@]}"; do
		for s in "${order[@]}"; do
			if [[ $s == wsd ]]; then p=$WSD_PORT; else p=$NGINX_PORT; fi
			run_wrk "$s" "$p" "$spec" "$r" "$DURATION"
		done
	done
done

# --- table -------------------------------------------------------------------

median() {
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f\n", m }'
}

echo
printf '%-10s %12s %12s %12s  %s\n' profile "wsd req/s" "nginx req/s" "wsd/nginx" "socket errors (wsd; nginx)"
for spec in "${PROFILES[@]}"; do
	name=${spec%%|*}
	w=$(awk -v n="$name" '$1 == n && $2 == "wsd" {print $4}' "$RESULTS" | median)
	n=$(awk -v n="$name" '$1 == n && $2 == "nginx" {print $4}' "$RESULTS" | median)
	ratio=$(awk -v n="$name" '$1 == n {v[$2 " " $3] = $4; if ($2 == "wsd") rounds[$3] = 1}
		END {for (r in rounds) if (v["nginx " r] > 0) print v["wsd " r] / v["nginx " r]}' "$RESULTS" | median)
	werr=$(awk -v n="$name" '$1 == n && $2 == "wsd" && $5 != "-" {print "r" $3 ":" $5}' "$RESULTS" | paste -sd' ')
	nerr=$(awk -v n="$name" '$1 == n && $2 == "nginx" && $5 != "-" {print "r" $3 ":" $5}' "$RESULTS" | paste -sd' ')
	printf '%-10s %12.0f %12.0f %12.2f  %s; %s\n' "$name" "$w" "$n" "$ratio" "${werr:-none}" "${nerr:-none}"
done

echo
if [[ -s $TMP/stalls ]]; then
	echo "machine stalls (a sleeper woke > 200 ms late): $(wc -l <"$TMP/stalls")," \
		"longest $(sort -k2 -n "$TMP/stalls" | tail -n1 | awk '{print $2}') ms; at (UTC, ms late):" \
		"$(head -n 20 "$TMP/stalls" | paste -sd' ')"
else
	echo "machine stalls (a sleeper woke > 200 ms late): none"
fi

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

pid=$WSD_PID
WSD_PID=""
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
