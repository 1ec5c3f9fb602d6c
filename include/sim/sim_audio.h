/* sim_audio: the audio files of the simulator's recordings.
 *
 * A recording is generated when it is fetched, from its length and the
 * words the caller spoke: a WAV file (8 kHz, 8-bit, mono; a quiet tone
 * while the caller spoke) whose LIST/INFO ICMT chunk carries the words,
 * so that a call that later <Play>s the recording is heard saying them,
 * or an MP3 file of silent MPEG-1 Layer III frames of the same length.
 * Recordings in real Twilio are real audio; the simulator's only have
 * the right length and format. */
#ifndef RF_SIM_AUDIO_H
#define RF_SIM_AUDIO_H

#include <stddef.h>

#include "buf.h"

/* The longest recording Twilio makes (maxLength's ceiling), seconds. */
#define SIM_AUDIO_MAX_S 14400

/* Appends a WAV file of seconds (0 to SIM_AUDIO_MAX_S) with words ("" or
 * NULL: no comment chunk) to out. */
void sim_audio_wav(int seconds, const char *words, struct buf *out);

/* Appends an MP3 file of about seconds to out. */
void sim_audio_mp3(int seconds, struct buf *out);

/* The ICMT comment of a WAV file (malloc'd, control characters made
 * spaces), or NULL when data is not a WAV file or has none. */
char *sim_audio_wav_words(const unsigned char *data, size_t len);

#endif
