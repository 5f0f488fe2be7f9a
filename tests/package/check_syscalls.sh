#!/usr/bin/env bash
# The unit's SystemCallFilter=@system-service allows every system call wsd
# makes: itest_caps (wsd -t, serving, every role restarted, a hung child
# killed, under the unit's capability set) runs under strace -f, and every
# call seen must be in the set systemd-analyze expands @system-service to.
# Usage: check_syscalls.sh ITEST_CAPS UNIT_IN. Exit 77 (skipped) without
# strace or systemd-analyze, or not as root.
set -euo pipefail
itest=$1 unit=$2
for t in strace systemd-analyze; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (itest_caps does)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

filter=$(sed -n 's/^SystemCallFilter=//p' "$unit")
[ "$filter" = "@system-service" ] || { echo "FAIL: the unit's filter is '$filter'"; exit 1; }
expand() {
	systemd-analyze syscall-filter "$1" | sed 1d | grep -v '^[[:space:]]*#' | tr -d ' ' |
		grep -v '^$' | while read -r x; do
		case $x in @*) expand "$x" ;; *) echo "$x" ;; esac
	done
}
expand @system-service | sort -u >"$tmp/allowed"
[ -s "$tmp/allowed" ] || { echo "FAIL: systemd-analyze expanded nothing"; exit 1; }

strace -f -qq -o "$tmp/trace" "$itest" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
awk '{ sub(/^[0-9]+ +/, ""); if (match($0, /^[a-z_0-9]+\(/)) print substr($0, 1, RLENGTH - 1) }' \
	"$tmp/trace" | sort -u >"$tmp/used"
grep -qx execveat "$tmp/used" || { echo "FAIL: the trace has no role started"; exit 1; }
extra=$(comm -23 "$tmp/used" "$tmp/allowed")
if [ -n "$extra" ]; then
	echo "FAIL: outside @system-service: $extra"
	echo "syscalls: 0 passed, 1 failed"
	exit 1
fi
echo "syscalls: 1 passed, 0 failed ($(wc -l <"$tmp/used") distinct calls, all in @system-service)"
