#!/bin/sh
# Runs before the package's files are unpacked (deb: preinst, rpm: %pre), so
# that /etc/capstan/capstan.yaml can be group-owned by capstan.
set -e

if ! getent group capstan >/dev/null; then
	groupadd --system capstan
fi
if ! getent passwd capstan >/dev/null; then
	useradd --system --gid capstan --home-dir /var/lib/capstan --no-create-home \
		--shell /usr/sbin/nologin --comment "capstan log-shipping agent" capstan
fi
