-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 2: who subscribed to the
-- presence of a user's gateway contact (SQLite's 002, same columns).

CREATE TABLE gateway_subscriptions (
	contact TEXT NOT NULL,    -- the gateway address subscribed to (bare)
	subscriber TEXT NOT NULL, -- who subscribed (bare JID)
	user_jid TEXT NOT NULL,   -- the user the address names (bare JID)
	created_ms BIGINT NOT NULL,
	PRIMARY KEY (contact, subscriber)
);
CREATE INDEX gateway_subscriptions_user ON gateway_subscriptions (user_jid);
CREATE INDEX presence_source_updated ON presence (source, updated_ms);
