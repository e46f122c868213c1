# SPDX-License-Identifier: GPL-3.0-or-later
"""A second "host" for multi-host tests: a network namespace (ip netns)
joined to the test's own namespace by veth pairs, each pair its own /30
with the test's end .1 and the namespace's end .2, created by the test and
removed by it (deleting the namespace deletes the pairs). A process run
through argv() sees only its own links, so a link set down cuts that
"host" off exactly as a pulled cable would: no reset, packets just stop.
Needs root, as the tests have."""

import json
import os
import random
import subprocess


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class NetNs:
    def __init__(self, links=1):
        """LINKS veth pairs; link i's addresses are self.outside(i) (in
        the test's namespace) and self.inside(i) (in the new one)."""
        tag = "%x%04x" % (os.getpid() & 0xffff, random.randrange(0x10000))
        self.name = "rb-%s" % tag
        # A random 10.x.y.0/24 per namespace, a /30 per link inside it,
        # so that tests running at once do not collide.
        self.net = "10.%d.%d" % (random.randrange(64, 250),
                                 random.randrange(1, 250))
        self.links = ["rb%s%d" % (tag, i) for i in range(links)]
        self.created = False
        _ip("netns", "add", self.name)
        self.created = True
        try:
            for i, out in enumerate(self.links):
                peer = out + "p"
                _ip("link", "add", out, "type", "veth", "peer", "name",
                    peer)
                _ip("link", "set", peer, "netns", self.name)
                _ip("addr", "add", self.outside(i) + "/30", "dev", out)
                _ip("link", "set", out, "up")
                self.run_in("ip", "addr", "add", self.inside(i) + "/30",
                            "dev", peer)
                self.run_in("ip", "link", "set", peer, "up")
            self.run_in("ip", "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def outside(self, i):
        return "%s.%d" % (self.net, 4 * i + 1)

    def inside(self, i):
        return "%s.%d" % (self.net, 4 * i + 2)

    def argv(self, argv):
        """ARGV run inside the namespace; `ip netns exec` execs it, so the
        pid a Popen gets is the program's own."""
        return ["ip", "netns", "exec", self.name] + [str(a) for a in argv]

    def run_in(self, *argv):
        subprocess.run(self.argv(argv), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def link_down(self, i):
        _ip("link", "set", self.links[i], "down")

    def link_up(self, i):
        _ip("link", "set", self.links[i], "up")

    def pin_neighbour(self, i):
        """Pins the namespace's ARP entry for link i's far end (nud
        permanent): with the link then down, the namespace's packets on it
        vanish without an error, as beyond a host's first hop in a
        partition, instead of ARP failing and the kernel reporting the far
        end unreachable within a second or two."""
        out = subprocess.run(["ip", "-j", "link", "show", "dev",
                              self.links[i]], check=True,
                             capture_output=True, text=True).stdout
        mac = json.loads(out)[0]["address"]
        self.run_in("ip", "neigh", "replace", self.outside(i), "lladdr", mac,
                    "dev", self.links[i] + "p", "nud", "permanent")

    def cut_inside(self, i):
        """Sets link i down at the namespace's end: that "host" lost its
        cable; the test's end stays up, with no carrier."""
        self.run_in("ip", "link", "set", self.links[i] + "p", "down")

    def sysctl(self, **settings):
        """Sets net.* sysctls inside the namespace only (TCP's keepalive
        and retransmission settings are per network namespace):
        sysctl(ipv4_tcp_retries2=5) sets net.ipv4.tcp_retries2."""
        for key, value in settings.items():
            name = "net." + key.replace("_", ".", 1)
            self.run_in("sysctl", "-q", "-w", "%s=%s" % (name, value))

    def remove(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.created = False
        # The test's ends go with their peers; a pair whose peer never
        # moved into the namespace would stay.
        for out in self.links:
            subprocess.run(["ip", "link", "del", out],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


class Wire:
    """A veth pair between two namespaces A and B (NetNs), a /30 of A's
    /24 beyond A's own links: A's end a_addr, B's end b_addr. Removed with
    the namespaces."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        tag = a.name[3:]
        self.a_dev, self.b_dev = "rbw%sa" % tag, "rbw%sb" % tag
        i = len(a.links)
        self.a_addr = "%s.%d" % (a.net, 4 * i + 1)
        self.b_addr = "%s.%d" % (a.net, 4 * i + 2)
        _ip("link", "add", self.a_dev, "type", "veth", "peer", "name",
            self.b_dev)
        try:
            _ip("link", "set", self.a_dev, "netns", a.name)
            _ip("link", "set", self.b_dev, "netns", b.name)
        except BaseException:
            subprocess.run(["ip", "link", "del", self.a_dev],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            raise
        a.run_in("ip", "addr", "add", self.a_addr + "/30", "dev", self.a_dev)
        a.run_in("ip", "link", "set", self.a_dev, "up")
        b.run_in("ip", "addr", "add", self.b_addr + "/30", "dev", self.b_dev)
        b.run_in("ip", "link", "set", self.b_dev, "up")

    def cut_a(self):
        """A's end down: A lost this cable; B's end has no carrier."""
        self.a.run_in("ip", "link", "set", self.a_dev, "down")
