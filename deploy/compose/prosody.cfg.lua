-- SPDX-License-Identifier: GPL-3.0-or-later
-- Prosody for the docker-compose set-up: the native demo's configuration
-- (test/integration/rbtest.py, as docs/prosody.md describes) with
-- container addresses. test/deploy/test_compose.py checks that the two
-- enable the same modules, domains and privileges.
plugin_paths = { "/usr/lib/prosody/modules" }
data_path = "/var/lib/prosody"
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "version"; "time"; "pep"; "private"; "vcard_legacy"; "carbons"; "offline"; "privilege"; "cloud_notify"; "mam" }
modules_disabled = { "s2s"; "tls"; "posix" }
log = { { levels = { min = "info" }, to = "console" } }

-- Clients and voice-reply downloads from the host (published on
-- 127.0.0.1 only); the component shares this container's network, so its
-- XEP-0114 port stays on loopback.
interfaces = { "*" }
c2s_ports = { 5222 }
c2s_interfaces = { "*" }
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }
http_ports = { 5280 }
http_interfaces = { "*" }
http_default_host = "upload.localhost"
https_ports = { }
s2s_ports = { }

-- A demo on loopback: no TLS, plain passwords. Not for a real server.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
archive_expires_after = "1w"
default_archive_policy = true

-- The component secret is a compose secret, never written here.
local function first_line(path)
  local f = assert(io.open(path))
  local line = f:read("*l")
  f:close()
  return line
end

VirtualHost "localhost"
  privileged_entities = {
    ["callgw.localhost"] = {
      presence = "managed_entity";
      message = "outgoing";
      iq = { ["urn:xmpp:push:0"] = "set"; ["http://jabber.org/protocol/pubsub"] = "set" };
    };
  }
  push_notification_with_body = true
  push_notification_with_sender = true

Component "callgw.localhost"
  component_secret = first_line("/run/secrets/component_secret")
  modules_enabled = { "privilege" }

Component "upload.localhost" "http_file_share"
  http_file_share_access = { "callgw.localhost" }
  http_external_url = "http://127.0.0.1:5280/"
