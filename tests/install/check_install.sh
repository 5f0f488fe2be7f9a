#!/usr/bin/env bash
# cmake --install into a temp DESTDIR: exactly the expected files, the
# unit's and logrotate's paths follow the install-time prefix, and the
# installed wsd accepts the installed configuration (its paths moved into
# the temp dir). Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The build's own SYSCONFDIR is relative (etc): under the prefix, /usr/etc here.
DESTDIR="$tmp/d" cmake --install "$build" --prefix /usr >/dev/null
(cd "$tmp/d" && find . -type f -o -type l | sed 's/^\.//' | sort) >"$tmp/got"
diff -u "$src/tests/install/expected-files.txt" "$tmp/got" || fail "installed files differ"

unit="$tmp/d/usr/lib/systemd/system/wsd.service"
grep -qx 'ExecStart=/usr/sbin/wsd -c /usr/etc/wsd/wsd.conf' "$unit" || fail "ExecStart"
grep -qx 'ExecStartPre=/usr/sbin/wsd -t -c /usr/etc/wsd/wsd.conf' "$unit" || fail "ExecStartPre"
grep -qx 'ExecReload=/usr/bin/wsctl reload' "$unit" || fail "ExecReload"
grep -qx 'Type=notify' "$unit" || fail "Type=notify"
grep -q '/usr/bin/wsctl log-reopen' "$tmp/d/usr/etc/logrotate.d/wsd" || fail "logrotate postrotate"
[ -x "$tmp/d/usr/sbin/wsd" ] && [ -x "$tmp/d/usr/bin/wsctl" ] || fail "binaries not executable"

# Another prefix: everything under it, nothing else.
DESTDIR="$tmp/o" cmake --install "$build" --prefix /opt/wsd >/dev/null
outside=$(cd "$tmp/o" && find . -type f | grep -v '^\./opt/wsd/' || true)
[ -z "$outside" ] || fail "outside the prefix: $outside"
grep -qx 'ExecStart=/opt/wsd/sbin/wsd -c /opt/wsd/etc/wsd/wsd.conf' \
	"$tmp/o/opt/wsd/lib/systemd/system/wsd.service" || fail "ExecStart under /opt/wsd"

# The packaged configuration is valid: every key known (paths moved to tmp;
# the user must exist for -t, so nobody stands in for www-data off Debian).
mkdir -p "$tmp/www" "$tmp/log"
chmod 755 "$tmp" "$tmp/www"
user=www-data
getent passwd www-data >/dev/null || user=nobody
sed -e "s|/var/www/html|$tmp/www|" -e "s|/var/log/wsd|$tmp/log|" \
	-e "s|^user = www-data|user = $user|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
	"$tmp/d/usr/etc/wsd/wsd.conf" >"$tmp/wsd.conf"
printf 'socket = off\n' >>"$tmp/wsd.conf"
out=$("$tmp/d/usr/sbin/wsd" -t -c "$tmp/wsd.conf" 2>&1) || fail "wsd -t on the packaged configuration: $out"
"$tmp/d/usr/bin/wsctl" --version >/dev/null || fail "wsctl --version"
echo "install: 1 passed, 0 failed"
