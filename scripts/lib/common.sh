# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by scripts/test and scripts/demo: installs the Debian packages
# ringbridge needs when they are missing (idempotent, silent when nothing is
# missing), and configures and builds a tree.

RB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Build tools and libraries, then the real peers the tests run against.
RB_BUILD_PACKAGES="build-essential cmake pkg-config clang-format
	libstrophe-dev libxml2-dev libsofia-sip-ua-dev flite1-dev libspandsp-dev
	libsndfile1-dev libsqlite3-dev libinih-dev libssl-dev libglib2.0-dev libcurl4-openssl-dev
	libmicrohttpd-dev libsystemd-dev sqlite3 tzdata libpq-dev libsrtp2-dev
	libespeak-ng-dev libsoxr-dev libgettextpo-dev gettext"
# libespeak-ng-dev: the voices of every language but English (espeak-ng-data
# comes with its library); libsoxr-dev: their 22.05 kHz brought to 8 kHz;
# libgettextpo-dev: the PO parser i18n/catalog_gen reads po/LANG.po with;
# gettext: xgettext and msgfmt for the catalog template (rb_pot).
# python3-pylibsrtp: test_bridge_srtp's own SRTP phone media (libsrtp2,
# the library sipp 3.6 lacks), to re-key a call mid-way and read the
# bridge's SRTCP.
RB_PEER_PACKAGES="prosody prosody-modules ejabberd sip-tester python3-slixmpp
	tcpdump kamailio kamailio-presence-modules kamailio-sqlite-modules
	docker-compose systemd prometheus chromium postgresql python3-psycopg2
	lua5.4 liblua5.4-dev libidn2-dev lua-socket lua-expat lua-filesystem lua-sec
	baresip-core openssl python3-pylibsrtp faketime"
# scripts/fuzz: clang with libFuzzer, and GNU time for the CPU seconds.
RB_FUZZ_PACKAGES="clang libclang-rt-14-dev time"
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

# Prosody 13.0.1 (the series Debian 13 ships; not in Debian 12's archive),
# built once from ../shared/peers into build-peers/ with the community
# mod_privilege beside it. The Prosody integration tests that exercise what
# changed between 0.12 and 13 run against it too (RB_PROSODY=13, see
# test/integration/CMakeLists.txt). Its build takes seconds.
# The sources sit in the workplace's shared folder, beside the checkout
# (or at /work/shared for a clone made elsewhere on the machine).
if [ -z "${RB_PEERS_SRC:-}" ]; then
	RB_PEERS_SRC=$RB_ROOT/../shared/peers
	[ -d "$RB_PEERS_SRC" ] || RB_PEERS_SRC=/work/shared/peers
fi
RB_PROSODY13_DIR="$RB_ROOT/build-peers/prosody13"
rb_build_prosody13() {
	local d=$RB_PROSODY13_DIR
	grep -qx 13.0.1 "$d/prosody-13.0.1/prosody.version" 2>/dev/null &&
		[ -f "$d/prosody-modules/plugins/community/mod_privilege/mod_privilege.lua" ] &&
		return 0
	if [ ! -f "$RB_PEERS_SRC/prosody-13.0.1.tar.gz" ]; then
		echo "ringbridge: $RB_PEERS_SRC/prosody-13.0.1.tar.gz is missing" >&2
		return 1
	fi
	echo "ringbridge: building Prosody 13.0.1 into $d"
	rm -rf "$d" && mkdir -p "$d"
	tar -C "$d" -xzf "$RB_PEERS_SRC/prosody-13.0.1.tar.gz"
	tar -C "$d" -xzf "$RB_PEERS_SRC/prosody-modules-privilege.tar.gz"
	# make also generates a test certificate: openssl's progress dots go
	# to the log, which is shown only if the build fails.
	(cd "$d/prosody-13.0.1" &&
		./configure --ostype=debian --lua-version=5.4 >"$d/build.log" 2>&1 &&
		make >>"$d/build.log" 2>&1 &&
		# A tag's tarball has no version file: its log would say
		# "version unknown".
		echo 13.0.1 >prosody.version) || {
		cat "$d/build.log" >&2
		return 1
	}
}

# rb_build DIR [cmake options...]: configures (once) and builds DIR.
rb_build() {
	local dir=$1
	shift
	cmake -S "$RB_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" \
		>/dev/null
	cmake --build "$dir" -j"$(nproc)" -- --no-print-directory
}

# True when clang links a libFuzzer program here (scripts/test runs the
# short fuzz runs only then, and says so when it cannot).
rb_libfuzzer_available() {
	local tmp rc
	tmp=$(mktemp -d)
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
		'{ (void)d; (void)n; return 0; }' >"$tmp/t.c"
	clang -fsanitize=fuzzer "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1 &&
		[ -x /usr/bin/time ]
	rc=$?
	rm -rf "$tmp"
	return $rc
}

# The catalog template po/ringbridge.pot, made from the N_() marks in the C
# sources (docs/translating.md). Writes it to $1 (default: the tree's own),
# so that the unit test unit/i18n_pot can compare a fresh one with it.
rb_pot() {
	local out=${1:-$RB_ROOT/po/ringbridge.pot}
	{
		echo "# SPDX-License-Identifier: GPL-3.0-or-later"
		echo "# The English texts of ringbridge's phone calls: the template every po/LANG.po"
		echo "# translates (docs/translating.md). Made from the N_() marks in the C sources"
		echo "# by rb_pot (scripts/lib/common.sh); do not edit by hand."
		(cd "$RB_ROOT" && xgettext --from-code=UTF-8 --keyword=N_ \
			--language=C --add-comments=TRANSLATORS --omit-header \
			--no-location -o - sip-bridge/*.c tts/*.c)
	} >"$out"
}
