#!/usr/bin/env bash
# pool_ramp.sh: the pool's size over time under a wrk ramp. wsd (pool min 1,
# max 8, a short pool.idle_timeout) idles for a few seconds, then wrk loads
# it (Connection: close, 100-byte file: CPU-bound), then it idles until the
# pool is back at min (bounded). `wsctl status --json` is sampled every
# 0.5 s: pool.current and the mean busy share of the running workers.
# Prints the table, the scale decisions from the log, and:
#   up:   seconds from load start to the first sample at the peak size
#         under load (and the size at the load's end, which can be smaller:
#         a short idle_timeout can retire a worker while the load runs)
#   down: seconds from load stop to the first sample back at min, and the
#         target idle_timeout + 1 s tick per extra worker + 2 s
# Not a test: it prints figures for docs/performance.md. Nothing leaves
# 127.0.0.1; everything lives in one temporary directory, removed on exit.
#
#   tests/bench/pool_ramp.sh [IDLE_TIMEOUT_S] [LOAD_S]   (default 5 and 10)
#   WSD, WSCTL: the binaries (default build/wsd, build/wsctl)
#   WRK_ARGS: default "-t2 -c64" (plus -H 'Connection: close')
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
WSCTL_BIN=${WSCTL:-$ROOT_DIR/build/wsctl}
IDLE_S=${1:-5}
LOAD_S=${2:-10}
PRE_S=3
MIN=1
MAX=8
read -r -a WRK_ARGS <<<"${WRK_ARGS:--t2 -c64}"
for t in wrk jq; do
	command -v "$t" >/dev/null || { echo "pool_ramp.sh: needs $t (apt-get install $t)" >&2; exit 2; }
done
[[ -x $WSD_BIN && -x $WSCTL_BIN ]] || { echo "pool_ramp.sh: no wsd/wsctl at $WSD_BIN, $WSCTL_BIN" >&2; exit 2; }

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/wsd-poolramp.XXXXXX)
SAMPLER_PID="" WRK_PID=""
cleanup() {
	for p in $WRK_PID $SAMPLER_PID; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	bench_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
mkdir "$TMP/root"
head -c 100 /dev/urandom >"$TMP/root/100.bin"
wsd_start "$TMP" "$TMP/root" "[pool]
min = $MIN
max = $MAX
idle_timeout = ${IDLE_S}s
[log]
level = info"
PORT=$WSD_PORT

now() { date +%s.%N; }
T0=$(now)
echo off >"$TMP/phase"

# One sample: t load current busy (busy = mean over running workers).
sample() {
	local t js
	t=$(awk -v a="$(now)" -v b="$T0" 'BEGIN {printf "%.1f", a - b}')
	js=$(timeout 2 "$WSCTL_BIN" -s "$TMP/ctl.sock" -t 1 --json status 2>/dev/null) || { echo "$t $(cat "$TMP/phase") - -"; return; }
	jq -r --arg t "$t" --arg ph "$(cat "$TMP/phase")" \
		'[.roles.worker.processes[] | select(.state == "running") | .busy] as $b |
		 "\($t) \($ph) \(.pool.current) \(if ($b | length) > 0 then ($b | add / length * 100 | round / 100) else "-" end)"' <<<"$js"
}
sampler() {
	local k=0 next
	while :; do
		sample
		k=$((k + 1))
		next=$(awk -v t0="$T0" -v k="$k" -v n="$(now)" 'BEGIN {d = t0 + k * 0.5 - n; printf "%.3f", (d > 0 ? d : 0)}')
		sleep "$next"
	done
}
sampler >"$TMP/samples" &
SAMPLER_PID=$!

sleep "$PRE_S"
echo on >"$TMP/phase"
T_ON=$(now)
timeout $((LOAD_S + 10)) wrk "${WRK_ARGS[@]}" -d "${LOAD_S}s" -H "Connection: close" \
	"http://127.0.0.1:$PORT/100.bin" >"$TMP/wrk.out" 2>&1 &
WRK_PID=$!
wait "$WRK_PID" || true
WRK_PID=""
T_OFF=$(now)
echo off >"$TMP/phase"
# Idle until the pool is back at min, at most idle_timeout + one tick per
# possible extra worker + 10 s.
deadline=$(awk -v t="$T_OFF" -v s=$((IDLE_S + MAX - MIN + 10)) 'BEGIN {print t + s}')
while awk -v n="$(now)" -v d="$deadline" 'BEGIN {exit !(n < d)}'; do
	cur=$(tail -1 "$TMP/samples" | awk '{print $3}')
	back=$(awk -v n="$(now)" -v t="$T_OFF" 'BEGIN {print ((n - t > 1) ? 1 : 0)}')
	[[ $back == 1 && $cur == "$MIN" ]] && break
	sleep 0.5
done
sleep 1 # two more samples at min
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""

on_s=$(awk -v a="$T_ON" -v b="$T0" 'BEGIN {printf "%.1f", a - b}')
off_s=$(awk -v a="$T_OFF" -v b="$T0" 'BEGIN {printf "%.1f", a - b}')
echo "wsd pool min $MIN max $MAX idle_timeout ${IDLE_S}s; wrk ${WRK_ARGS[*]} -d${LOAD_S}s -H 'Connection: close' /100.bin"
echo "load on at ${on_s} s, off at ${off_s} s; $(awk '/Requests\/sec/ {print $2 " req/s"}' "$TMP/wrk.out")"
printf '%6s %5s %5s %5s\n' "t (s)" load pool busy
awk '{printf "%6s %5s %5s %5s\n", $1, $2, $3, $4}' "$TMP/samples"
echo "decisions:"
grep -E 'scale (up|down)' "$TMP/wsd.log" | sed 's/^/  /' || true
awk -v on="$on_s" -v off="$off_s" -v min="$MIN" -v idle="$IDLE_S" '
	$3 != "-" { t[NR] = $1; ph[NR] = $2; c[NR] = $3; n = NR }
	END {
		for (i = 1; i <= n; i++) if (t[i] <= off && ph[i] == "on") { settled = c[i]; if (c[i] > peak) peak = c[i] }
		for (i = 1; i <= n; i++) if (t[i] >= on && c[i] == peak) { up = t[i] - on; break }
		for (i = 1; i <= n; i++) if (t[i] >= off && c[i] == min) { down = t[i] - off; break }
		target = idle + (settled - min) + 2
		printf "peak %d workers under load, %d at its end; up to %d in %.1f s (target <= 3 s: %s)\n", peak, settled, peak, up, (up <= 3 ? "met" : "NOT met")
		if (down == "") printf "down: not back at %d within the bound\n", min
		else printf "down %.1f s (target <= %d s = idle_timeout %d + %d ticks + 2: %s)\n", down, target, idle, settled - min, (down <= target ? "met" : "NOT met")
	}' "$TMP/samples"
bench_stop "$WSD_PID" || echo "pool_ramp.sh: wsd exited with status $?" >&2
