/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The recording formats: Ogg/Opus (the default) and MP3, each a constant
 * vtable naming its media type, file extension and libsndfile format bits,
 * with a tune() hook that sets a bitrate fit for telephone speech. Both
 * encode the 8 kHz input as it is: Opus takes 8 kHz natively and LAME
 * writes MPEG-2.5 at 8 kHz, so nothing is resampled.
 */
#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "log.h"
#include "recorder.h"

#define TAG "recorder"

/*
 * Opus: libsndfile 1.2.0 maps the compression level c to a target bitrate of
 * 6000 + (1 - c) * 250000 bit/s per channel (ogg_opus.c) and leaves the
 * encoder in its default VBR mode (it ignores SFC_SET_BITRATE_MODE). 0.96
 * gives 16 kbit/s: narrowband speech (the phone line carries nothing above
 * 3.4 kHz) is near transparent from 12 kbit/s, and the margin covers
 * libsndfile's fixed OPUS_APPLICATION_AUDIO tuning. VBR spends less on
 * pauses: a minute of unbroken speech comes to about 117 KB (measured by
 * bench_recorder), a minute with pauses to less.
 */
#define OPUS_COMPRESSION 0.96

/*
 * MP3: at 8 kHz LAME writes MPEG-2.5, whose bitrates run 8..64 kbit/s, and
 * libsndfile maps the compression level c to 64 - c * 56 kbit/s, truncated.
 * 0.714 gives 24 kbit/s (0.7142857 would risk truncating to 23). Constant
 * bitrate, because players estimate an MP3's length from its first frame;
 * and not 16 kbit/s, whose 144-byte frames are too small for the LAME info
 * tag, so decoders would no longer know the exact length (measured: 3.000 s
 * of input decodes to 3.168 s at 16 kbit/s, to 3.000 s at 24).
 */
#define MP3_COMPRESSION 0.714

static int format_opus_tune(SNDFILE *sf)
{
	double level = OPUS_COMPRESSION;

	if (sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level) !=
	    SF_TRUE) {
		log_err(TAG, "opus: cannot set the bitrate: %s",
		        sf_strerror(sf));
		return -EIO;
	}
	return 0;
}

static int format_mp3_tune(SNDFILE *sf)
{
	double level = MP3_COMPRESSION;
	int mode = SF_BITRATE_MODE_CONSTANT;

	/* Level first: changing the mode re-applies the level, and fails
	 * while none is set. */
	if (sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level) !=
	        SF_TRUE ||
	    sf_command(sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode) !=
	        SF_TRUE) {
		log_err(TAG, "mp3: cannot set the bitrate: %s",
		        sf_strerror(sf));
		return -EIO;
	}
	return 0;
}

/*
 * "audio/ogg" with extension ".oga", for three reasons. RFC 5334 gives
 * audio/ogg and .oga to audio-only Ogg; RFC 7845 allows the parameter
 * "codecs=opus" but does not require it, and a parameter can defeat servers
 * that match upload types against a list (Prosody's http_file_share).
 * Conversations names its own Opus voice messages ".oga" and maps .oga to
 * audio/ogg, whereas it maps .ogg to application/ogg, a container it must
 * probe before offering a player, and .opus to audio/opus, which not every
 * MIME table knows. Gajim guesses the type from the URL's extension and
 * takes any type under "audio/" (.oga, .ogg and .opus all qualify).
 */
const struct recorder_format recorder_format_opus = {
    .name = "opus",
    .mime_type = "audio/ogg",
    .extension = ".oga",
    .sf_format = SF_FORMAT_OGG | SF_FORMAT_OPUS,
    .tune = format_opus_tune,
};

/* For clients that cannot play Opus (iOS before 17): every player plays
 * MP3, at 1.5 times the size. */
const struct recorder_format recorder_format_mp3 = {
    .name = "mp3",
    .mime_type = "audio/mpeg",
    .extension = ".mp3",
    .sf_format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III,
    .tune = format_mp3_tune,
};

static const struct recorder_format *const format_table[] = {
    &recorder_format_opus,
    &recorder_format_mp3,
};

const struct recorder_format *recorder_format_by_name(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof format_table / sizeof format_table[0]; i++) {
		if (!strcasecmp(name, format_table[i]->name))
			return format_table[i];
	}
	return NULL;
}
