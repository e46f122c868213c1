#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The compose set-up's Prosody: (re)creates the demo users alice and bob
# with the password in the demo_password secret, then runs Prosody in the
# foreground so that the container's life is Prosody's.
set -eu
cfg=/etc/prosody/prosody.cfg.lua
pw=$(head -n 1 /run/secrets/demo_password)
for user in alice bob; do
	prosodyctl --config "$cfg" register "$user" localhost "$pw"
done
exec prosody --config "$cfg" -F
