#!/usr/bin/env bash
# The man pages against the code they describe: clean under mandoc -Tlint
# (warnings and worse), every key of server/config.c's table under its
# section in wsd.conf(5), every command of wsctl's table (wsctl --help,
# from common/cmd.c) in wsctl(8), every flag of wsd --help in wsd(8).
# Usage: check_man.sh SOURCE_DIR WSD WSCTL. Exit 77 (skipped) without mandoc.
set -euo pipefail
src=$1 wsd=$2 wsctl=$3
man=$src/man
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

if ! command -v mandoc >/dev/null; then
	echo "SKIP: mandoc is not installed (apt-get install mandoc)"
	exit 77
fi
for m in "$man/wsd.8" "$man/wsctl.8" "$man/wsd.conf.5"; do
	out=$(mandoc -Tlint -W warning "$m" 2>&1) || fail "mandoc -Tlint $m: $out"
done

# config.c: {"section", "key", set_...
keys=$(sed -n 's/^[[:space:]]*{"\([a-z_]*\)", "\([a-z_]*\)", set_.*/\1 \2/p' "$src/server/config.c")
[ -n "$keys" ] || fail "no keys found in server/config.c"
while read -r section key; do
	# the .It Ic KEY line between ".Ss [section]" and the next .Ss or .Sh
	awk -v s="[$section]" -v k="$key" '
		$0 == ".Ss " s { in_s = 1; next }
		/^\.S[sh] / { in_s = 0 }
		in_s && $1 == ".It" && $2 == "Ic" && $3 == k { found = 1 }
		END { exit !found }' "$man/wsd.conf.5" ||
		fail "wsd.conf(5) lacks $section.$key under .Ss [$section]"
done <<<"$keys"

# wsctl --help: "commands ..." then "  name  summary" lines until a blank one.
cmds=$("$wsctl" --help | awk '/^commands/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$cmds" ] || fail "no commands in wsctl --help"
for c in $cmds; do
	grep -q "^\.It Cm $c\( \|$\)" "$man/wsctl.8" || fail "wsctl(8) lacks the command $c"
done

# wsd --help: "  -c FILE", "  -v, --version" ...
flags=$("$wsd" --help | sed -n 's/^  \(-[a-z]\)\(, \(--[a-z]*\)\)\{0,1\}[ ].*/\1 \3/p')
[ -n "$flags" ] || fail "no flags in wsd --help"
while read -r short long; do
	grep -q "^\.It Fl ${short#-}\( \|$\)" "$man/wsd.8" || fail "wsd(8) lacks $short"
	[ -z "$long" ] || grep -q "^\.It Fl ${short#-} , Fl \\\\-${long#--}$" "$man/wsd.8" ||
		fail "wsd(8) lacks $long beside $short"
done <<<"$flags"

n=$(($(wc -l <<<"$keys") + $(wc -w <<<"$cmds") + $(wc -l <<<"$flags")))
if ((failed)); then
	echo "man: 0 passed, 1 failed"
	exit 1
fi
echo "man: 1 passed, 0 failed ($n keys, commands and flags checked)"
