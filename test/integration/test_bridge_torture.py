# SPDX-License-Identifier: GPL-3.0-or-later
"""The 49 torture messages of RFC 4475 (and the archive's test.dat), as
the RFC's own bytes (rfc4475/, checked against SHA256SUMS), sent raw over
UDP and over TCP to ringbridge-sip in each presence mode; then floods of
OPTIONS, INVITE and SUBSCRIBE and oversized datagrams. After each message
the process must be alive and its loop must still answer (an INVITE, which
ua.c refuses 480 on the loop: OPTIONS is answered by sofia alone).

Over TCP the answer comes back on the connection, so it is compared with
EXPECTED, the outcome per file: what RFC 4475 prescribes where it does, and
otherwise what the bridge's methods make of a well-formed request (480 for
INVITE, 200 for OPTIONS, 405 for methods it does not implement, 501 for
unknown ones). Over UDP the messages' Via headers name fixed ports and
other hosts, so answers go elsewhere by design: only survival is checked.

RB_TORTURE_RECORD=1 prints the table of what was seen instead of checking.

Cost: about 60 s (three bridges, no phone, no XMPP server). Both builds:
it feeds sofia's parser and the bridge's request handling hostile input,
which is what the sanitizer build is for.
"""

import hashlib
import os
import pathlib
import socket
import time
import unittest

import rbbridge
from rbbridge import Run, SipProbe

CORPUS = pathlib.Path(__file__).resolve().parent / "rfc4475"

# file: the status of the first final answer on the TCP connection, or
# None for none there: the file is a response, or its Via names UDP and
# another host, so sofia sends the answer there (the status due is in
# brackets: what the RFC prescribes, or the bridge's methods make of it).
# The RFC 4475 section is first in each comment.
EXPECTED = {
    # 3.1.1 valid messages: processed as the method says.
    "wsinv.dat": None,       # 3.1.1.1 INVITE, short tortuous [480 due]
    "intmeth.dat": None,     # 3.1.1.2 a method nobody knows [501 due]
    "esc01.dat": None,       # 3.1.1.3 INVITE, escaped Request-URI [480 due]
    "escnull.dat": None,     # 3.1.1.4 REGISTER (not implemented) [405 due]
    "esc02.dat": 501,        # 3.1.1.5 "RE%47IST%45R" is not REGISTER
    "lwsdisp.dat": None,     # 3.1.1.6 OPTIONS [200 due]
    "longreq.dat": 480,      # 3.1.1.7 INVITE with long values
    "dblreq.dat": None,      # 3.1.1.8 REGISTER + INVITE after body [405 due]
    "semiuri.dat": None,     # 3.1.1.9 OPTIONS [200 due]
    "transports.dat": None,  # 3.1.1.10 OPTIONS [200 due]
    "mpart01.dat": None,     # 3.1.1.11 MESSAGE (not implemented) [405 due]
    "unreason.dat": None,    # 3.1.1.12 a response
    "noreason.dat": None,    # 3.1.1.13 a response
    # 3.1.2 invalid messages: 400, or dropped where unparseable.
    "badinv01.dat": None,    # 3.1.2.1 extraneous header separators [400 due]
    "clerr.dat": None,       # 3.1.2.2 Content-Length > body [400 due]
    "ncl.dat": 400,          # 3.1.2.3 negative Content-Length
    "scalar02.dat": 400,     # 3.1.2.4 overlarge scalar values
    "scalarlg.dat": None,    # 3.1.2.5 a response with huge values
    "quotbal.dat": 400,      # 3.1.2.6 unterminated quoted string
    "ltgtruri.dat": 400,     # 3.1.2.7 <> around the Request-URI
    "lwsruri.dat": None,     # 3.1.2.8 LWS in the Request-URI [400 due]
    "lwsstart.dat": None,    # 3.1.2.9 several SPs in request line [400 due]
    "trws.dat": 200,         # 3.1.2.10 SP after the SIP version
    "escruri.dat": None,     # 3.1.2.11 escaped headers in the R-URI [400 due]
    "baddate.dat": None,     # 3.1.2.12 invalid time zone in Date [400 due]
    "regbadct.dat": 400,     # 3.1.2.13 unquoted < in a display name
    "badaspec.dat": None,    # 3.1.2.14 Route with bad addr-spec [400 due]
    "baddn.dat": None,       # 3.1.2.15 bad display name [400 due]
    "badvers.dat": 505,      # 3.1.2.16 SIP/7.0
    "mismatch01.dat": 400,   # 3.1.2.17 CSeq method mismatch
    "mismatch02.dat": 400,   # 3.1.2.18 unknown method, CSeq mismatch
    "bigcode.dat": None,     # 3.1.2.19 a response, huge status code
    # 3.2 transaction layer semantics.
    "badbranch.dat": None,   # 3.2.1 OPTIONS, branch just the cookie [200 due]
    # 3.3 application layer semantics.
    "insuf.dat": 400,        # 3.3.1 missing Call-ID, From, To...
    "unkscm.dat": 416,       # 3.3.2 unknown Request-URI scheme
    "novelsc.dat": 416,      # 3.3.3 unknown scheme in the R-URI
    "unksm2.dat": None,      # 3.3.4 REGISTER (unknown To scheme) [405 due]
    "bext01.dat": None,      # 3.3.5 Require: an unknown extension [420 due]
    "invut.dat": None,       # 3.3.6 INVITE, unknown Content-Type [480 due]
    "regaut01.dat": 405,     # 3.3.7 REGISTER, unknown auth scheme
    "multi01.dat": 400,      # 3.3.8 several To values
    "mcl01.dat": 400,        # 3.3.9 several Content-Length values
    "bcast.dat": None,       # 3.3.10 a 200 OK response
    "zeromf.dat": None,      # 3.3.11 OPTIONS, Max-Forwards 0 (a UAS) [200 due]
    "cparam01.dat": None,    # 3.3.12 REGISTER [405 due]
    "cparam02.dat": None,    # 3.3.13 REGISTER [405 due]
    "regescrt.dat": None,    # 3.3.14 REGISTER [405 due]
    "sdp01.dat": None,       # 3.3.15 INVITE, unacceptable Accept [480 due]
    # 3.4 backward compatibility.
    # 3.4.1 an RFC 2543 INVITE, which the RFC says should be accepted;
    # Debian 12's sofia-sip answers 400.
    "inv2543.dat": 400,
    # Not in a section: the archive's own extra file.
    "test.dat": None,
}

def corpus():
    sums = {}
    for line in (CORPUS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name.lstrip("*")] = digest
    files = {}
    for name in sorted(sums):
        data = (CORPUS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sums[name], name
        files[name] = data
    return files


def tcp_answer(port, data, timeout=0.8):
    """The status code of the first final answer on a TCP connection that
    sent DATA, or None when none came within TIMEOUT."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            final = [m for m in got.split(b"\r\n\r\n")
                     if m.startswith(b"SIP/2.0 ") and
                     not m.startswith(b"SIP/2.0 1")]
            if final:
                return int(final[0].split()[1])
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
    return None


class BridgeTortureTest(rbbridge.EachPresenceMode, unittest.TestCase):

    def check_mode(self, mode):
        files = corpus()
        self.assertEqual(sorted(files), sorted(EXPECTED))
        run = Run(self, extra=rbbridge.presence_mode_config(mode))
        run.start_bridge()
        sip = SipProbe(self, run.sip_port)
        seen = {}
        for name, data in files.items():
            seen[name] = tcp_answer(run.sip_port, data)
            sip.send(data)
            run.assert_running()
            self.assertTrue(sip.alive(), "after %s:\n%s" % (name,
                                                            run.logs()))
        if os.environ.get("RB_TORTURE_RECORD"):
            for name in sorted(seen):
                print("%-16s %s" % (name, seen[name]))
            return
        wrong = {n: (seen[n], EXPECTED[n]) for n in seen
                 if seen[n] != EXPECTED[n]}
        self.assertEqual(wrong, {}, "file: (seen, expected)")
        self.flood(run, sip)
        self.assertEqual(run.query("SELECT COUNT(*) FROM jobs"), [(0,)])
        self.assertEqual(run.stop_bridge(), 0, run.logs())

    def flood(self, run, sip):
        """2,000 OPTIONS, INVITEs and SUBSCRIBEs as fast as a socket sends
        them, and datagrams from 60 KiB to the UDP maximum."""
        n = 50000
        for method in ("OPTIONS", "INVITE", "SUBSCRIBE"):
            for _ in range(2000 if method == "OPTIONS" else 700):
                n += 1
                extra = "Event: presence\r\n" if method == "SUBSCRIBE" \
                    else ""
                sip.send(sip.request(method, n, extra=extra))
        for size in (60000, 65507):
            try:
                sip.send(sip.request("OPTIONS", n + 1, body="x" * (
                    size - 400)))
            except OSError:
                pass
        sip.responses(2.0)
        run.assert_running()
        self.assertTrue(sip.alive(), run.logs())


if __name__ == "__main__":
    unittest.main()
