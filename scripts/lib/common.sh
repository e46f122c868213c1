# Shared by scripts/test and scripts/demo: installs the Debian packages
# ringbridge needs when they are missing (idempotent, silent when nothing is
# missing), and configures and builds a tree.

RB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Build tools and libraries, then the real peers the tests run against.
RB_BUILD_PACKAGES="build-essential cmake pkg-config clang-format
	libstrophe-dev libxml2-dev libsofia-sip-ua-dev flite1-dev libspandsp-dev
	libsndfile1-dev libsqlite3-dev libinih-dev libssl-dev libglib2.0-dev libcurl4-openssl-dev
	libmicrohttpd-dev sqlite3 tzdata"
RB_PEER_PACKAGES="prosody prosody-modules ejabberd sip-tester python3-slixmpp
	tcpdump kamailio kamailio-presence-modules kamailio-sqlite-modules
	docker-compose systemd"
# Only for scripts/valgrind (the memcheck integration run).
RB_VALGRIND_PACKAGES="valgrind"

rb_install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "ringbridge: installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# rb_build DIR [cmake options...]: configures (once) and builds DIR.
rb_build() {
	local dir=$1
	shift
	cmake -S "$RB_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" \
		>/dev/null
	cmake --build "$dir" -j"$(nproc)" -- --no-print-directory
}
