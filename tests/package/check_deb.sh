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
	echo "(no systemd as PID 1: the package was not started, as expected)"
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
