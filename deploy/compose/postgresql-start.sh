#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The compose set-up's PostgreSQL (profile "postgresql"): on the first start
# creates the cluster in the postgresql-data volume, with the user and
# database "ringbridge" owning it and the password in the queue_password
# secret (scram-sha-256 from the compose network only), then runs the
# server in the foreground so that the container's life is PostgreSQL's.
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
	pwfile=$(mktemp)
	head -n 1 /run/secrets/queue_password > "$pwfile"
	# Trust on the container's own socket only (in /tmp: the image has
	# no /run/postgresql), passwords over the network.
	"$bin/initdb" -D "$data" -U ringbridge --auth-local=trust \
		--auth-host=scram-sha-256 --pwfile "$pwfile" -E UTF8
	rm -f "$pwfile"
	echo "host ringbridge ringbridge 172.30.77.0/24 scram-sha-256" \
		>> "$data/pg_hba.conf"
	"$bin/pg_ctl" -D "$data" -w \
		-o "-c listen_addresses='' -c unix_socket_directories=/tmp" start
	"$bin/createdb" -h /tmp -U ringbridge ringbridge
	"$bin/pg_ctl" -D "$data" -w -m fast stop
fi
# A claim cut off inside its transaction must not keep its rows locked
# (docs/scale-out.md, "Server settings for cut-off clients").
exec "$bin/postgres" -D "$data" -c listen_addresses=172.30.77.6 \
	-c unix_socket_directories=/tmp -c idle_in_transaction_session_timeout=10s
