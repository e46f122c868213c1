-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 7: the user's own voicemail gate
-- (issue 12). NULL follows the operator's [calls] gate; 0 off, 1 on. The
-- job keeps its own copy, taken when the message was caught, so a change
-- of setting never alters a call already queued.

ALTER TABLE registrations ADD COLUMN gate INTEGER;
ALTER TABLE jobs ADD COLUMN gate INTEGER;
