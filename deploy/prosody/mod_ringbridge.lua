-- SPDX-License-Identifier: GPL-3.0-or-later
-- mod_ringbridge: makes catching by the ringbridge component lossless on
-- Prosody 0.12 and 13. mod_cloud_notify sends one push per message stored
-- for an offline user and forgets it: a push to a component that is not
-- connected bounces (wait/remote-server-timeout) and is never sent again.
-- This module gives every push to a local component a stable item id, keeps
-- it in durable storage until the component answers it with a result, and
-- sends what is pending again when the component reconnects and on a
-- back-off timer; the component deduplicates on the id.
--
-- Enable: plugin_paths = { "/usr/local/share/ringbridge/prosody" } (this
-- folder, where "cmake --install" puts it)
-- and "ringbridge" in the VirtualHost's modules_enabled, next to
-- "cloud_notify". No other setting is needed; the bounds below can be
-- changed with the options named beside them.
--
-- Copyright (C) 2026 the ringbridge authors. GPL-3.0-or-later.

local st = require "util.stanza";
local new_uuid = require "util.uuid".generate;
local precise_now = require "util.time".now;

local xmlns_pubsub = "http://jabber.org/protocol/pubsub";
local xmlns_data = "jabber:x:data";

-- Bounds: a user's pending pushes (the oldest is dropped beyond it), the
-- host's (new pushes are not kept beyond it), and their age (a push the
-- component has not taken for this long is dropped).
local max_per_user = module:get_option_number("ringbridge_pending_per_user", 200);
local max_total = module:get_option_number("ringbridge_pending_total", 20000);
local max_age = module:get_option_number("ringbridge_pending_max_age", 7 * 86400);
-- A body longer than this is cut in the kept copy: the component shortens
-- bodies far below it before phoning (policy max_body_chars).
local body_max = 16384;
-- A push with no answer at all (the component died holding it) is sent
-- again after this long; a bounced one after a back-off doubling from
-- retry_min to retry_max.
local answer_timeout = 20;
local retry_min, retry_max = 1, 60;
-- After the component authenticates, wait this long before sending what
-- is pending, so that mod_privilege's advertisement reaches it first
-- (without it the component cannot tell that the push is from us).
local reconnect_delay = 1;
-- Sent per timer tick at most, so a long backlog does not flood the link.
local burst = 500;

local store = module:open_store("ringbridge_pending");
local pending = {}; -- username -> { [item id] = entry }
local counts = {}; -- username -> number of entries
local total = 0;
local inflight = {}; -- iq id -> { user, id, service, sent }
local watched = {}; -- component host -> true once hooked
-- Component hosts that bounced a push as not connected: while one is, the
-- timer sends it one push a tick (a probe), not its whole backlog; its
-- authentication clears the mark and sends everything.
local down = {};
local seq = 0; -- orders entries created in the same second

local function now() return os.time(); end

-- A bound that is hit is hit for every push until the component is back:
-- say so once a minute per KEY, with how often it happened meanwhile.
local warned = {}; -- key -> { at, suppressed }
local function warn_limited(key, fmt, ...)
	local w = warned[key];
	if w and now() - w.at < 60 then
		w.suppressed = w.suppressed + 1;
		return;
	end
	local more = w and w.suppressed > 0 and (" (and %d more like it in the last minute)"):format(w.suppressed) or "";
	warned[key] = { at = now(), suppressed = 0 };
	module:log("warn", fmt .. more, ...);
end

local function save(user)
	local ok, err = store:set(user, counts[user] and counts[user] > 0 and pending[user] or nil);
	if not ok then
		module:log("error", "Cannot store pending ringbridge pushes for %s: %s"
			.. " (they are kept in memory only until Prosody restarts)", user, tostring(err));
	end
end

local function remove(user, id)
	local mine = pending[user];
	if not (mine and mine[id]) then return false; end
	mine[id] = nil;
	counts[user] = counts[user] - 1;
	total = total - 1;
	if counts[user] == 0 then pending[user], counts[user] = nil, nil; end
	return true;
end

local function oldest(user)
	local best;
	for _, e in pairs(pending[user] or {}) do
		if not best or e.created < best.created
			or (e.created == best.created and e.seq < best.seq) then
			best = e;
		end
	end
	return best;
end

local function backoff(tries)
	local d = retry_min * 2 ^ math.min(tries, 10);
	return d > retry_max and retry_max or d;
end

-- Cuts an over-long body in the copy that is kept (UTF-8 safe).
local function cut_bodies(iq)
	for form in iq:childtags("pubsub", xmlns_pubsub) do
		local item = form:find("publish/item");
		local notif = item and item.tags[1];
		local x = notif and notif:get_child("x", xmlns_data);
		for field in (x and x:childtags("field") or function() end) do
			local v = field.attr.var == "last-message-body" and field:get_child("value");
			local text = v and v[1];
			if type(text) == "string" and #text > body_max then
				local n = body_max;
				-- Back off continuation bytes (10xxxxxx) to a character start.
				while n > 0 and text:byte(n + 1) and text:byte(n + 1) >= 0x80
					and text:byte(n + 1) < 0xC0 do
					n = n - 1;
				end
				v[1] = text:sub(1, n);
			end
		end
	end
end

local send_entry;

-- Sends again what is pending for SERVICE, oldest first, except what was
-- sent after SINCE (it went to the component as it is now connected).
local function send_pending(service, limit, since)
	local list = {};
	for user, mine in pairs(pending) do
		for _, e in pairs(mine) do
			if e.service == service and not (e.sent_at and e.sent_at >= since) then
				list[#list + 1] = { user = user, e = e };
			end
		end
	end
	table.sort(list, function(a, b)
		if a.e.created ~= b.e.created then return a.e.created < b.e.created; end
		return a.e.seq < b.e.seq;
	end);
	local sent = 0;
	for _, it in ipairs(list) do
		if sent >= limit then break; end
		if send_entry(it.user, it.e) then sent = sent + 1; end
	end
	return sent;
end

-- Hooks the component's authentication, once per component host, to send
-- what is pending for it as soon as it is back.
local function watch(service)
	if watched[service] or not prosody.hosts[service] then return; end
	watched[service] = true;
	module:context(service):hook("component-authenticated", function()
		local since = precise_now();
		module:add_timer(reconnect_delay, function()
			down[service] = nil;
			local n = send_pending(service, max_total, since);
			if n > 0 then
				module:log("info", "%s is back: sent %d pending push(es) again", service, n);
			end
		end);
	end);
end

function send_entry(user, e)
	if not prosody.hosts[e.service] then return false; end
	watch(e.service);
	local iq = st.deserialize(e.stanza);
	iq.attr.id = "rb-" .. new_uuid();
	inflight[iq.attr.id] = { user = user, id = e.id, service = e.service, sent = now() };
	e.tries = (e.tries or 0) + 1;
	e.next_try = now() + answer_timeout;
	e.sent_at = precise_now();
	module:log("debug", "Sending pending push %s for %s to %s again (try %d)",
		e.id, user, e.service, e.tries);
	module:send(iq);
	return true;
end

-- cloud_notify is about to send a push: when it goes to a local component
-- and carries a message, give it a stable id and keep it until answered.
module:hook("cloud_notify/push", function(event)
	local info, iq = event.push_info, event.notification_stanza;
	local service = info and info.jid;
	local host = service and prosody.hosts[service];
	if not (host and host.type == "component" and event.important and iq) then return; end
	local item = iq:find("{" .. xmlns_pubsub .. "}pubsub/publish/item");
	if not item then return; end
	local user = event.username;
	if total >= max_total and not (counts[user] and counts[user] >= max_per_user) then
		warn_limited("total", "%d ringbridge pushes are pending on %s (ringbridge_pending_total):"
			.. " a push for %s is sent once and not kept; is %s connected?",
			total, module.host, user, service);
		return;
	end
	local id = new_uuid();
	item.attr.id = id;
	if counts[user] and counts[user] >= max_per_user then
		local old = oldest(user);
		warn_limited("user:" .. user, "%d pushes for %s are pending with %s (ringbridge_pending_per_user):"
			.. " dropping the oldest, %s", counts[user], user, service, old.id);
		remove(user, old.id);
	end
	local copy = st.clone(iq);
	cut_bodies(copy);
	seq = seq + 1;
	local e = {
		id = id; service = service; node = info.node; created = now(); seq = seq;
		tries = 1; next_try = now() + answer_timeout; sent_at = precise_now();
		stanza = st.preserialize(copy);
	};
	if not pending[user] then pending[user], counts[user] = {}, 0; end
	pending[user][id] = e;
	counts[user] = counts[user] + 1;
	total = total + 1;
	save(user);
	watch(service);
	inflight[iq.attr.id] = { user = user, id = id, service = service, sent = now() };
end);

-- Answers to pushes, ours and cloud_notify's, before mod_iq dispatches them
-- (priority above its 0); returns nothing so cloud_notify still counts them.
module:hook("iq/host", function(event)
	local stanza = event.stanza;
	local t = stanza.attr.type;
	if t ~= "result" and t ~= "error" then return; end
	local f = inflight[stanza.attr.id];
	if not f or stanza.attr.from ~= f.service then return; end
	inflight[stanza.attr.id] = nil;
	local e = pending[f.user] and pending[f.user][f.id];
	if not e then return; end
	if t == "result" then
		down[f.service] = nil; -- it is back, whether or not we saw it connect
		remove(f.user, f.id);
		save(f.user);
		return;
	end
	local etype, condition, text = stanza:get_error();
	if etype == "wait" or etype == "auth" then
		-- Not connected, cannot commit now, or privileges not yet known:
		-- the component will take it later.
		e.next_try = now() + backoff(e.tries or 1);
		if condition == "remote-server-timeout" then down[f.service] = true; end
		module:log("debug", "Push %s for %s bounced (%s/%s): again in %d s",
			f.id, f.user, etype, condition, e.next_try - now());
		return;
	end
	module:log("info", "%s refused push %s for %s (%s/%s%s): not sending it again",
		f.service, f.id, f.user, tostring(etype), tostring(condition),
		text and (": " .. text) or "");
	remove(f.user, f.id);
	save(f.user);
end, 1);

-- The user's client has just collected the stored messages (mod_offline,
-- on an available presence): phoning about them now would only repeat
-- what the user is reading, so what is pending for them is dropped.
module:hook("message/offline/broadcast", function(event)
	local user = event.origin and event.origin.username;
	local n = user and counts[user];
	if not n then return; end
	for id in pairs(pending[user]) do remove(user, id); end
	save(user);
	module:log("info", "%s collected the stored messages: %d pending push(es) for them dropped",
		user, n);
end, 1);

-- Once a second: drop what is too old, send again what is due, forget
-- answers that never came.
module:add_timer(1, function()
	local t = now();
	local due, probed = 0, {};
	for user, mine in pairs(pending) do
		local changed = false;
		for id, e in pairs(mine) do
			if t - e.created > max_age then
				warn_limited("age:" .. user, "Dropping push %s for %s: %s has not taken it in %d s"
					.. " (ringbridge_pending_max_age)", id, user, e.service, max_age);
				remove(user, id);
				changed = true;
			elseif e.next_try <= t and due < burst and not probed[e.service] then
				if down[e.service] then probed[e.service] = true; end
				if send_entry(user, e) then due = due + 1; end
			end
		end
		if changed then save(user); end
	end
	for key, w in pairs(warned) do
		if t - w.at > 120 then warned[key] = nil; end
	end
	for iq_id, f in pairs(inflight) do
		if t - f.sent > 2 * answer_timeout then inflight[iq_id] = nil; end
	end
	return 1;
end);

-- What was pending when Prosody stopped is sent again once the component
-- connects (or the timer finds it due).
local function load_pending()
	if not store.users then
		module:log("warn", "This storage backend cannot list users: pushes pending"
			.. " before a restart are not sent again");
		return;
	end
	local n = 0;
	for user in store:users() do
		local data, err = store:get(user);
		if err then
			module:log("error", "Cannot read pending ringbridge pushes for %s: %s", user, tostring(err));
		elseif type(data) == "table" then
			for id, e in pairs(data) do
				if total < max_total and type(e) == "table" and type(e.stanza) == "table" then
					if not pending[user] then pending[user], counts[user] = {}, 0; end
					e.next_try = now() + reconnect_delay;
					e.seq = tonumber(e.seq) or 0;
					if e.seq > seq then seq = e.seq; end
					e.created = tonumber(e.created) or now();
					pending[user][id] = e;
					counts[user] = counts[user] + 1;
					total = total + 1;
					n = n + 1;
				end
			end
		end
	end
	if n > 0 then
		module:log("info", "%d push(es) not yet taken by the component are pending", n);
	end
end

load_pending();
