#!/usr/bin/env bash
# Build the Debian package from a copy of the tree (the source tree stays
# clean), lint it, install it with apt-get, check what it installed, then
# purge it so the machine is as before. As root; installs what it needs.
# Usage: tests/package/check_deb.sh [--keep]   (--keep: leave it installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
keep=0
[ "${1:-}" = --keep ] && keep=1
export DEBIAN_FRONTEND=noninteractive
fail() { echo "FAIL: $*" >&2; exit 1; }

need=(dpkg-dev debhelper lintian mandoc systemd)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Without systemd: the unit's ExecStart on the packaged configuration, with
# the directories the unit would make, then what the README promises: a page
# on 127.0.0.1:8080, /metrics on 127.0.0.1:9145, wsctl status, wsctl stop.
run_packaged() {
	local pid i body
	for port in 8080 9145; do
		if ss -Hltn "sport = :$port" | grep -q .; then
			echo "(port $port is taken on this machine: the packaged configuration was not started)"
			return 0
		fi
	done
	mkdir -p /run/wsd /var/log/wsd
	/usr/sbin/wsd -c /etc/wsd/wsd.conf </dev/null &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		curl -sf -o /dev/null http://127.0.0.1:9145/readyz && break
		kill -0 "$pid" 2>/dev/null || fail "the packaged wsd exited at start"
		sleep 0.1
	done
	echo packaged >/var/www/html/wsd-package-check.txt
	body=$(curl -sf http://127.0.0.1:8080/wsd-package-check.txt) || body=
	rm -f /var/www/html/wsd-package-check.txt
	[ "$body" = packaged ] || { kill "$pid"; fail "GET a file on 127.0.0.1:8080"; }
	curl -sf http://127.0.0.1:9145/metrics | grep -q '^wsd_http_requests_total' ||
		{ kill "$pid"; fail "GET /metrics on 127.0.0.1:9145"; }
	wsctl status || { kill "$pid"; fail "wsctl status on the packaged control socket"; }
	wsctl stop || { kill "$pid"; fail "wsctl stop"; }
	wait "$pid" || fail "the packaged wsd's exit status"
	echo "the packaged configuration served, scraped and stopped"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # the unit tests run wsctl as nobody from the build tree
mkdir "$work/wsd"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/wsd"

echo "== build dependencies (apt-get build-dep)"
(cd "$work/wsd" && apt-get build-dep -y ./ >/dev/null)

echo "== dpkg-buildpackage -us -uc -b"
(cd "$work/wsd" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
	{ tail -n 60 "$work/build.log"; fail "dpkg-buildpackage"; }
deb=$(ls "$work"/wsd_*.deb)
dpkg-deb -c "$deb"

echo "== lintian (no errors allowed)"
lintian --fail-on error --info "$work"/wsd_*.changes || fail "lintian reports errors"

echo "== apt-get install ./$(basename "$deb")"
(cd "$work" && apt-get install -y ./wsd_*.deb)
[ -x /usr/sbin/wsd ] && [ -x /usr/bin/wsctl ] || fail "binaries not installed"
dpkg-query -W -f='${Conffiles}\n' wsd | grep -q /etc/wsd/wsd.conf || fail "wsd.conf is no conffile"
wsd -t -c /etc/wsd/wsd.conf || fail "wsd -t on the packaged configuration"
wsctl --version || fail "wsctl --version"
for m in wsd.8 wsctl.8 wsd.conf.5; do
	s=${m##*.}
	[ -e "/usr/share/man/man$s/$m.gz" ] || fail "man page $m"
done
echo "== the upgrade path (prerm upgrade, postinst configure OLD): a reinstall"
(cd "$work" && apt-get install -y --reinstall ./wsd_*.deb >/dev/null) || fail "reinstall (the upgrade's scripts)"
wsd -t -c /etc/wsd/wsd.conf || fail "wsd -t after the reinstall"
if [ -d /run/systemd/system ]; then
	systemctl is-active wsd || fail "the service did not start"
else
	echo "(no systemd as PID 1: the package was not started; run it as the unit would)"
	run_packaged
fi

echo "== systemd-analyze verify"
systemd-analyze verify --man=no /lib/systemd/system/wsd.service || fail "systemd-analyze verify"
echo "== systemd-analyze security --offline=true"
systemd-analyze security --offline=true --no-pager /lib/systemd/system/wsd.service | tail -n 3

if ((keep)); then
	echo "package: 1 passed, 0 failed (left installed)"
	exit 0
fi
echo "== apt-get purge wsd"
apt-get purge -y wsd
[ ! -e /usr/sbin/wsd ] && [ ! -e /etc/wsd/wsd.conf ] || fail "purge left files"
echo "package: 1 passed, 0 failed"
