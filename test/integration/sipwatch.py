# SPDX-License-Identifier: GPL-3.0-or-later
"""sipp scenarios written by the presence tests: a watcher that SUBSCRIBEs
to a presentity and checks each NOTIFY it receives against regular
expressions (a NOTIFY that does not match fails sipp, so its exit status
says whether the watcher saw the right PIDF), and a phone that REGISTERs at
a registrar and calls through it."""

from xml.sax.saxutils import quoteattr

HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n' \
    '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="%s">\n'

OK_TO_REQUEST = """  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""


def _checks(body=(), headers=()):
    acts = []
    for rx in body:
        acts.append('<ereg regexp=%s search_in="body" check_it="true" '
                    'assign_to="m"/>' % quoteattr(rx))
    for hdr, rx in headers:
        acts.append('<ereg regexp=%s search_in="hdr" header=%s '
                    'check_it="true" assign_to="m"/>' % (
                        quoteattr(rx), quoteattr(hdr)))
    return "".join(acts)


def _resubscribe(presentity, event, cseq, expires, timeout_ms):
    return """  <send retrans="500"><![CDATA[

SUBSCRIBE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:watcher@[local_ip]>;tag=[pid]SIPpTag00[call_number]
To: <%(p)s>[peer_tag_param]
Call-ID: [call_id]
CSeq: %(c)d SUBSCRIBE
Contact: <sip:watcher@[local_ip]:[local_port]>
[routes]
Max-Forwards: 70
Event: %(e)s
Expires: %(x)d
Content-Length: 0

]]></send>
  <recv response="200" timeout="%(t)d"/>
""" % dict(p=presentity, e=event, c=cseq, x=expires, t=timeout_ms)


def watcher(presentity, notifies, *, event="presence", expires=60,
            unsubscribe=True, final=None, timeout_ms=60000,
            accept="application/pidf+xml", refresh=None):
    """SUBSCRIBE to PRESENTITY (a sip: URI), then one NOTIFY per entry of
    NOTIFIES (a list of regexps its body must match), answering each; with
    REFRESH (regexps), a refreshing SUBSCRIBE answered by 200 and a NOTIFY
    matching them; then an unSUBSCRIBE answered by a terminated NOTIFY, or,
    with FINAL, a NOTIFY whose Subscription-State matches FINAL (e.g. a
    timeout)."""
    s = [HEAD % "watcher"]
    s.append("""  <send retrans="500"><![CDATA[

SUBSCRIBE %(p)s SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:watcher@[local_ip]>;tag=[pid]SIPpTag00[call_number]
To: <%(p)s>
Call-ID: [call_id]
CSeq: 1 SUBSCRIBE
Contact: <sip:watcher@[local_ip]:[local_port]>
Max-Forwards: 70
Event: %(e)s
Accept: %(a)s
Expires: %(x)d
Content-Length: 0

]]></send>
  <recv response="200" rrs="true" timeout="%(t)d"/>
""" % dict(p=presentity, e=event, x=expires, t=timeout_ms, a=accept))
    for body in notifies:
        s.append('  <recv request="NOTIFY" timeout="%d"><action>%s'
                 '</action></recv>\n' % (timeout_ms, _checks(body)))
        s.append(OK_TO_REQUEST)
    cseq = 2
    if refresh:
        s.append(_resubscribe(presentity, event, cseq, expires, timeout_ms))
        s.append('  <recv request="NOTIFY" timeout="%d"><action>%s'
                 '</action></recv>\n' % (timeout_ms, _checks(
                     refresh, [("Subscription-State:", "active")])))
        s.append(OK_TO_REQUEST)
        cseq += 1
    if unsubscribe:
        s.append(_resubscribe(presentity, event, cseq, 0, timeout_ms))
        final = final or "terminated"
    if final:
        s.append('  <recv request="NOTIFY" timeout="%d"><action>%s'
                 '</action></recv>\n' % (timeout_ms, _checks(
                     headers=[("Subscription-State:", final)])))
        s.append(OK_TO_REQUEST)
    s.append('  <nop><action><log message="[$m]"/></action></nop>\n')
    s.append("</scenario>\n")
    return "".join(s)


def caller(from_uri, to_uri, hold_ms=4000):
    """A phone (FROM_URI) calling TO_URI through the proxy sipp is pointed
    at: INVITE with PCMU, ACK the answer, talk for HOLD_MS, hang up."""
    return (HEAD % "caller") + """  <send retrans="500"><![CDATA[

INVITE %(to)s SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <%(fr)s>;tag=[pid]SIPpTag00[call_number]
To: <%(to)s>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:phone@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=phone 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[

ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <%(fr)s>;tag=[pid]SIPpTag00[call_number]
To: <%(to)s>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
Contact: <sip:phone@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="%(hold)d"/>
  <send retrans="500"><![CDATA[

BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <%(fr)s>;tag=[pid]SIPpTag00[call_number]
To: <%(to)s>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
Contact: <sip:phone@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
""" % dict(fr=from_uri, to=to_uri, hold=hold_ms)


def callee():
    """A phone that answers one call (echoing the proxy's Record-Route, so
    the caller's ACK and BYE come back through it) and waits for BYE."""
    return (HEAD % "callee") + """  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

SIP/2.0 180 Ringing
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=phone 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <pause milliseconds="300"/>
</scenario>
"""
