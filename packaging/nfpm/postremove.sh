#!/bin/sh
# deb: postrm remove|purge|upgrade|...; rpm: %postun with $1 = 0 (erase) or 1
# (upgrade). `apt purge` / `dpkg --purge` also deletes the spool and
# checkpoints in /var/lib/capstan; a plain remove and rpm -e keep them, so a
# reinstall resumes where the agent stopped. The capstan user and group stay
# (Debian policy: files it owned may remain elsewhere).
set -e

case "$1" in
purge)
	rm -rf /var/lib/capstan
	rmdir /etc/capstan 2>/dev/null || true
	;;
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
