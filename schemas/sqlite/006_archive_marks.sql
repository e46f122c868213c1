-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 6: per registered user, the end
-- of the user's message archive (XEP-0313 metadata) the component last
-- looked at, after a (re)connect, so that messages archived while it was
-- disconnected are noticed once and a later reconnect does not phone for
-- them again (component/missed.c). end_ms is the server's timestamp of
-- the newest archived message (whole seconds on Prosody).

CREATE TABLE archive_marks (
	jid TEXT PRIMARY KEY,
	end_id TEXT NOT NULL,
	end_ms INTEGER NOT NULL,
	checked_ms INTEGER NOT NULL
);
