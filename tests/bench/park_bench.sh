#!/usr/bin/env bash
# park_bench.sh: does parking cost throughput? Two wsd instances, the same
# but for http.park_after (1s: parking on; 0s: off), measured by wrk in
# the same run, alternating which goes first each round:
#   keep-alive 1 KiB (busy keep-alive connections: they never park)
#   Connection: close 1 KiB (a worker's conn allocation per connection)
# Prints the median req/s of each and the median of the per-round on/off
# ratios. Nothing leaves 127.0.0.1; everything
# lives in one temporary directory, removed on exit.
#
#   tests/bench/park_bench.sh [ROUNDS] [SECONDS]      (default 5 rounds of 5 s)
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WSD_BIN=${WSD:-$ROOT_DIR/build/wsd}
ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=50
command -v wrk >/dev/null || { echo "park_bench.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
[[ -x $WSD_BIN ]] || { echo "park_bench.sh: no wsd at $WSD_BIN" >&2; exit 2; }

# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT_DIR/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/wsd-parkbench.XXXXXX)
cleanup() {
	bench_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
mkdir "$TMP/root"
head -c 1024 /dev/urandom >"$TMP/root/1k.bin"

# start NAME PARK_AFTER -> sets PORT_<NAME>
start() {
	wsd_start "$TMP/$1" "$TMP/root" "[pool]
min = 2
max = 2
[http]
park_after = $2"
	printf -v "PORT_$1" '%s' "$WSD_PORT"
}
start on 1s
start off 0s

# rps NAME PROFILE -> req/s
rps() {
	local port="PORT_$1" hdr=()
	[[ $2 == close ]] && hdr=(-H "Connection: close")
	wrk -t 2 -c "$CONNS" -d "${SECS}s" "${hdr[@]}" "http://127.0.0.1:${!port}/1k.bin" |
		awk '/^Requests\/sec/ {printf "%d", $2}'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

for profile in keepalive close; do
	: >"$TMP/on.$profile"; : >"$TMP/off.$profile"
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then order=(on off); else order=(off on); fi
		for s in "${order[@]}"; do rps "$s" "$profile" >>"$TMP/$s.$profile"; echo >>"$TMP/$s.$profile"; done
	done
	echo "  $profile, each round: on $(paste -sd' ' "$TMP/on.$profile"); off $(paste -sd' ' "$TMP/off.$profile")"
	on=$(median <"$TMP/on.$profile"); off=$(median <"$TMP/off.$profile")
	# Each round's on/off compares two runs seconds apart: the steadier figure.
	ratios=$(paste -d' ' "$TMP/on.$profile" "$TMP/off.$profile" | awk '{printf "%.3f\n", $1 / $2}')
	printf '%-10s parking on %8d req/s   off %8d req/s   median of the per-round on/off %s (rounds: %s)\n' \
		"$profile" "$on" "$off" "$(median <<<"$ratios")" "$(paste -sd' ' <<<"$ratios")"
done
