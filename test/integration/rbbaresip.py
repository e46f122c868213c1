# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian's baresip 1.0 as a real softphone for the bridge's tests, driven
headless: a private CA and certificates made with openssl, a baresip with
its own config directory answering on TLS (optionally with SRTP, its srtp
module's mediaenc), and ctrl_tcp commands (sndcode sends a key as RFC
4733). Shared by test_bridge_tls and test_bridge_srtp."""

import json
import shutil
import socket
import struct
import subprocess
import wave

import rbbridge
import rbtest
from rbbridge import Run

BARESIP = shutil.which("baresip")
MODULES = "/usr/lib/baresip/modules"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   capture_output=True, timeout=60)


def make_cert(d, name, cn, san, ca):
    """D/NAME.pem: a certificate for CN (subjectAltName SAN) signed by the
    CA at CA.pem/CA.key, followed by its key (the layout sofia's
    agent.pem and baresip's sip_certificate both read)."""
    key, csr, crt = (d / (name + ext) for ext in (".key", ".csr", ".crt"))
    ext = d / (name + ".ext")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
            "-out", str(csr), "-subj", "/CN=" + cn)
    ext.write_text("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca) + ".pem",
            "-CAkey", str(ca) + ".key", "-CAcreateserial", "-out", str(crt),
            "-days", "2", "-extfile", str(ext))
    pem = d / (name + ".pem")
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return pem


def port_pair():
    """A loopback port P free for UDP and TCP with P + 1 free too: baresip
    listens for TLS on its SIP port + 1."""
    return rbtest.free_range(2, 1)


def baresip_command(port, command, params):
    """One ctrl_tcp command (a netstring of JSON); its JSON reply."""
    cmd = json.dumps({"command": command, "params": params}).encode()
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        s.sendall(b"%d:%s," % (len(cmd), cmd))
        data = b""
        while not data.endswith(b","):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b":")
    return json.loads(body[:int(head)])


def world(testcase, phone_cn, mediaenc=None, extra_sip=""):
    """A bridge on sips: (with EXTRA_SIP in its [sip]) and a baresip
    on TLS whose certificate names PHONE_CN, with baresip's srtp
    module and ;mediaenc=MEDIAENC when MEDIAENC is set; returns (run,
    phone URI, ctrl_tcp port, dump dir)."""
    run = Run(testcase, tls=True, ring_timeout=10, attempts=1,
              extra_sip=extra_sip)
    d = run.dir
    ca = d / "ca"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(ca) + ".key", "-out", str(ca) + ".pem", "-days", "2",
            "-subj", "/CN=ringbridge test CA")
    run.tls_dir.mkdir()
    shutil.copy(make_cert(d, "bridge", "127.0.0.1", "DNS:127.0.0.1", ca),
                run.tls_dir / "agent.pem")
    shutil.copy(str(ca) + ".pem", run.tls_dir / "cafile.pem")
    phone = make_cert(d, "phone", phone_cn, "DNS:" + phone_cn, ca)
    sip_port, ctrl_port = port_pair(), rbtest.free_ports(1)[0]
    bs = d / "baresip"
    (bs / "snd").mkdir(parents=True)
    with wave.open(str(bs / "mic.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 60)
    (bs / "config").write_text("\n".join([
        "poll_method epoll",
        "net_interface 127.0.0.1",
        "sip_listen 127.0.0.1:%d" % sip_port,
        "sip_certificate %s" % phone,
        "sip_cafile %s.pem" % ca,
        "audio_player aufile,%s/out.wav" % bs,
        "audio_source aufile,%s/mic.wav" % bs,
        "audio_alert aufile,%s/mic.wav" % bs,
        "module_path " + MODULES,
        "module g711.so", "module aufile.so", "module sndfile.so"] +
        (["module srtp.so"] if mediaenc else []) + [
        # menu holds the commands, sndcode among them (while a call
        # is up); ctrl_tcp only carries them.
        "module_app account.so", "module_app menu.so",
        "module_app ctrl_tcp.so",
        "ctrl_tcp_listen 127.0.0.1:%d" % ctrl_port,
        "snd_path %s/snd" % bs, ""]))
    (bs / "accounts").write_text(
        "<sip:phone@127.0.0.1;transport=tls>;regint=0;"
        "answermode=auto%s\n" % (";mediaenc=" + mediaenc if mediaenc
                                  else ""))
    proc = rbtest._spawn([BARESIP, "-f", str(bs)], d / "baresip.log")
    testcase.addCleanup(rbtest._terminate, proc, 5)
    blog = d / "baresip.log"

    def ready():
        if proc.poll() is not None:
            raise AssertionError("baresip exited %s:\n%s" % (
                proc.returncode, rbtest.tail(blog, 30)))
        return b"baresip is ready" in blog.read_bytes()
    try:
        rbtest.wait_until(ready, timeout=20, what="baresip to start")
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, rbtest.tail(blog, 30)))
    run.start_bridge()
    return run, "sips:phone@127.0.0.1:%d" % (sip_port + 1), ctrl_port, \
        bs / "snd"


def heard_and_key(testcase, run, uri, ctrl_port, snd, text):
    """Calls the baresip of world() at URI with TEXT: it must answer, hear
    the prompt as the bridge rendered it (its sndfile dump against
    rbbridge.say, above 20 dB SNR) and press 2 (sndcode, RFC 4733), which
    must reach the queue as the one KEY. Returns the prompt's text as the
    bridge said it."""
    self = testcase
    job = run.test_call_to(uri, text)
    rbtest.wait_until(
        lambda: "ANSWERED" in [e[0] for e in run.events(job)],
        timeout=30, what="the call to be answered")
    said = rbbridge.said(run, job)
    # The menu follows the message; key 2 once it has been heard.
    rbtest.wait_until(
        lambda: "HEARD" in [e[0] for e in run.events(job)],
        timeout=60, what="the message to be heard")
    reply = baresip_command(ctrl_port, "sndcode", "2")
    self.assertTrue(reply.get("ok"), reply)
    ev = run.wait_ended(job, timeout=60)
    names = [e[0] for e in ev]
    self.assertIn("KEY", names, run.logs() + "\n--- baresip ---\n" +
                  rbtest.tail(run.dir / "baresip.log", 40))
    self.assertEqual([e[1] for e in ev if e[0] == "KEY"], ["2"])
    dumps = sorted(snd.glob("*-dec.wav"))
    self.assertTrue(dumps, "baresip dumped nothing it heard")
    with wave.open(str(dumps[0])) as w:
        self.assertEqual((w.getframerate(), w.getnchannels()),
                         (8000, 1))
        raw = w.readframes(w.getnframes())
    heard = list(struct.unpack("<%dh" % (len(raw) // 2), raw))
    ref = rbbridge.say(said)
    _, snr = rbbridge.find(heard, ref)
    self.assertGreater(snr, 20.0, "the prompt was not heard as "
                       "rendered (SNR %.1f dB)" % snr)
    return said
