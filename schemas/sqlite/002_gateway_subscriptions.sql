-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 2: who subscribed to the presence
-- of a user's gateway contact (bob@callgw.example.org), so that "on the
-- phone" reaches them after the component restarts (ARCHITECTURE.md
-- "Presence in both directions"). Written and read by the component only.

CREATE TABLE gateway_subscriptions (
	contact TEXT NOT NULL,    -- the gateway address subscribed to (bare)
	subscriber TEXT NOT NULL, -- who subscribed (bare JID)
	user_jid TEXT NOT NULL,   -- the user the address names (bare JID)
	created_ms INTEGER NOT NULL,
	PRIMARY KEY (contact, subscriber)
);
-- A user's phone state changed: everyone subscribed to any of his addresses.
CREATE INDEX gateway_subscriptions_user ON gateway_subscriptions (user_jid);
-- The bridge and the component read the other side's changed rows.
CREATE INDEX presence_source_updated ON presence (source, updated_ms);
