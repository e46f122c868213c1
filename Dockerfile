# SPDX-License-Identifier: GPL-3.0-or-later
# ringbridge and the demo's peers, built from Debian bookworm packages only.
# Stages: "build" compiles ringbridge with the build packages that
# scripts/lib/common.sh lists; "ringbridge" is the runtime image with only
# the shared libraries the binaries link (worked out in the build stage) and
# a non-root user; "prosody" and "phone" are the demo's XMPP server and SIP
# phone. docker-compose.yml and docs/compose.md say how they fit together.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
COPY scripts/lib/common.sh /tmp/rb/scripts/lib/common.sh
RUN bash -c '. /tmp/rb/scripts/lib/common.sh && apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y \
         --no-install-recommends $RB_BUILD_PACKAGES' \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX=/usr/local \
    && cmake --build /build -j"$(nproc)" \
        --target ringbridge-component ringbridge-sip ringbridgectl \
    && DESTDIR=/out cmake --install /build
# The packages owning the libraries the binaries link: the runtime stage
# installs exactly these, so the list cannot drift from the build.
RUN for lib in $(ldd /out/usr/local/bin/* | awk '/=> \//{print $3}' | sort -u); do \
        dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; \
    done | cut -d: -f1 | sort -u > /out/runtime-packages \
    && test -s /out/runtime-packages

FROM ${DEBIAN_IMAGE} AS ringbridge
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
       --no-install-recommends $(cat /tmp/runtime-packages) tzdata \
       ca-certificates \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
    && useradd --system --user-group --home-dir /var/lib/ringbridge \
       --shell /usr/sbin/nologin ringbridge \
    && install -d -o ringbridge -g ringbridge -m 0750 /var/lib/ringbridge
COPY --from=build /out/usr/local/ /usr/local/
# A new named volume mounted here takes this directory's owner.
VOLUME /var/lib/ringbridge
USER ringbridge
WORKDIR /var/lib/ringbridge
CMD ["ringbridge-component", "--config", "/etc/ringbridge/ringbridge.ini"]

FROM ${DEBIAN_IMAGE} AS prosody
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
       --no-install-recommends prosody prosody-modules \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/compose/prosody-start.sh /usr/local/bin/prosody-start
USER prosody
CMD ["prosody-start"]

# The queue for the "postgresql" compose profile (docs/compose.md).
FROM ${DEBIAN_IMAGE} AS postgresql
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
       --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY deploy/compose/postgresql-start.sh /usr/local/bin/postgresql-start
VOLUME /var/lib/postgresql/data
USER postgres
CMD ["postgresql-start"]

FROM ${DEBIAN_IMAGE} AS phone
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
       --no-install-recommends sip-tester \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/compose/phone.xml /etc/sipp/phone.xml
