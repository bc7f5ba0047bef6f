#!/bin/sh
# deb: postinst configure|abort-upgrade|...; rpm: %post with $1 = 1 (install)
# or 2 (upgrade). The service is not started or enabled here: look at
# /etc/capstan/capstan.yaml first, then `systemctl enable --now capstan`.
set -e

install -d -o capstan -g capstan -m 0750 /var/lib/capstan
chown capstan:capstan /var/lib/capstan
# The configuration may hold tokens: readable by the agent, not by everyone.
# (An administrator may have deleted it; dpkg then keeps it deleted.)
if [ -e /etc/capstan/capstan.yaml ]; then
	chgrp capstan /etc/capstan/capstan.yaml
	chmod 0640 /etc/capstan/capstan.yaml
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# An upgrade restarts a running agent so the new binary takes over; it
	# drains on SIGTERM and resumes from its checkpoints.
	if systemctl is-active --quiet capstan.service; then
		systemctl try-restart capstan.service || true
	fi
fi
