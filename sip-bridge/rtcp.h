/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * RTCP (RFC 3550 section 6) for one call's stream: what we learn from the
 * RTP we receive (the reception statistics of appendix A.1, A.3 and A.8),
 * the compound packet we send (an SR while we send RTP, else an RR, with a
 * report block on the phone's stream, SDES CNAME, and BYE at the end), and
 * the parser of what the phone sends (appendix A.2's validity checks), so
 * that a call's loss, jitter and round trip as both ends see them reach
 * the log. Pure functions on buffers, unit-tested and fuzzed; rtp.c owns
 * the sockets and SRTCP (sdes.h) wraps the packets.
 */
#ifndef RB_SIP_RTCP_H
#define RB_SIP_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest compound packet accepted from the network: an SR with 31
 * report blocks is 772 bytes; phones send one block, SDES and sometimes
 * XR, under 200. */
#define RTCP_MAX 1500
/* Ours: SR (28) + one block (24) + SDES with a CNAME of up to
 * RTCP_CNAME_MAX (8 + 2 + 64, padded) + BYE (8), under 160. */
#define RTCP_CNAME_MAX 64
#define RTCP_OUT_MAX   160

/* Reception statistics of the stream we receive (one SSRC at a time; a
 * new SSRC starts them again). Zeroed is "nothing received". */
struct rtcp_rx {
	bool seen;
	uint32_t ssrc;
	uint16_t max_seq;
	uint32_t cycles; /* sequence wraps, shifted left 16 */
	uint32_t base_seq, bad_seq;
	uint32_t received, expected_prior, received_prior;
	uint32_t transit; /* the last packet's arrival minus its timestamp */
	uint32_t jitter;  /* in timestamp units, scaled by 16 (A.8) */
	/* The phone's last SR: its NTP time's middle 32 bits, and when it
	 * came (the same units, on our wall clock). */
	uint32_t lsr, lsr_arrival;
};

/* A received RTP packet: its SSRC, sequence number and timestamp, and
 * when it arrived in the same units as the timestamp (8 kHz here). */
void rtcp_rx_rtp(struct rtcp_rx *rx, uint32_t ssrc, uint16_t seq, uint32_t ts,
                 uint32_t arrival);
/* Packets lost in all (received minus expected, RFC 3550 A.3; negative
 * with duplicates) and the highest sequence number, extended. */
int32_t rtcp_rx_lost(const struct rtcp_rx *rx);
uint32_t rtcp_rx_expected(const struct rtcp_rx *rx);

/* What we send, for an SR: packets and payload octets sent so far, and the
 * RTP timestamp that corresponds to the SR's NTP time. */
struct rtcp_sender {
	uint32_t packets, octets, rtp_ts;
};

/*
 * Writes our compound packet into OUT (CAP bytes, at least RTCP_OUT_MAX):
 * an SR when SND is not NULL, else an RR; a report block on RX's stream
 * when it has seen one (its interval's counts are taken: the next report
 * counts from here); SDES with CNAME (at most RTCP_CNAME_MAX bytes of it);
 * BYE when BYE. NTP is now on the wall clock as an NTP timestamp (seconds
 * since 1900 in the high 32 bits). Its length, or -ENOSPC.
 */
int rtcp_build(uint8_t *out, size_t cap, uint32_t ssrc,
               const struct rtcp_sender *snd, struct rtcp_rx *rx, uint64_t ntp,
               const char *cname, bool bye);

/* What a received compound packet said. */
struct rtcp_report {
	uint32_t ssrc; /* the sender's, from its first packet */
	bool sr;       /* it began with an SR */
	uint32_t sr_ntp_mid;
	uint32_t sr_packets;
	bool block;            /* it held a report block on our SSRC */
	uint8_t fraction_lost; /* in 1/256, since its last report */
	int32_t lost;          /* in all (24 bits, signed) */
	uint32_t ext_max_seq, jitter, lsr, dlsr;
	bool bye; /* a BYE for the sender's SSRC */
};

/*
 * Parses LEN bytes of one received compound packet (after SRTCP's
 * unprotect), checking RFC 3550 A.2: version 2 throughout, padding only in
 * the last packet, and lengths that add up to LEN exactly (A.2's SR or RR
 * first is not required: RFC 5506's reduced-size packets, and baresip's
 * lone APP ones, are read for what they hold). The SR's time, and the
 * report block on OUR_SSRC, if any, go into *OUT. 0 or -EBADMSG.
 */
int rtcp_parse(const uint8_t *p, size_t len, uint32_t our_ssrc,
               struct rtcp_report *out);

/* Whether the first bytes look like RTCP (version 2, a type 200-204): how
 * a packet on the RTP port (rtcp-mux) is told from RTP (RFC 5761 4). */
bool rtcp_is(const uint8_t *p, size_t len);

/*
 * The round trip in ms from a report block on our SR (RFC 3550 6.4.1: the
 * arrival's NTP middle 32 bits minus LSR minus DLSR), or -1 when the block
 * names no SR of ours or the figure is not plausible.
 */
double rtcp_rtt_ms(uint32_t arrival_mid, uint32_t lsr, uint32_t dlsr);

/* An NTP timestamp from a CLOCK_REALTIME time. */
uint64_t rtcp_ntp(int64_t sec, long nsec);

#endif
