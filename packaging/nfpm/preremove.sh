#!/bin/sh
# deb: prerm remove|upgrade|...; rpm: %preun with $1 = 0 (erase) or 1 (upgrade).
# Stop the agent only when the package goes away, not on an upgrade.
set -e

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now capstan.service >/dev/null 2>&1 || true
	fi
	;;
esac
