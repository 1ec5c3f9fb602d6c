/* sim_audio: generated recording files. */
#include "sim/sim_audio.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RATE 8000

static void le32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
		(unsigned char)(v >> 24) };
	buf_append(b, x, 4);
}

static void le16(struct buf *b, unsigned v)
{
	unsigned char x[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	buf_append(b, x, 2);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* seconds within 0..SIM_AUDIO_MAX_S, the lengths both formats make. */
static int clamp_seconds(int seconds)
{
	return seconds < 0 ? 0 : seconds > SIM_AUDIO_MAX_S ? SIM_AUDIO_MAX_S : seconds;
}

void sim_audio_wav(int seconds, const char *words, struct buf *out)
{
	uint32_t samples, wlen = 0, list = 0;
	unsigned char block[RATE / 10];

	seconds = clamp_seconds(seconds);
	samples = (uint32_t)seconds * RATE;
	if (words && *words) {
		wlen = (uint32_t)strlen(words) + 1;   /* NUL-terminated, padded to even */
		list = 4 + 8 + wlen + (wlen & 1);
	}
	buf_puts(out, "RIFF");
	le32(out, 4 + 8 + 16 + (list ? 8 + list : 0) + 8 + samples + (samples & 1));
	buf_puts(out, "WAVEfmt ");
	le32(out, 16);
	le16(out, 1);          /* PCM */
	le16(out, 1);          /* mono */
	le32(out, RATE);
	le32(out, RATE);       /* bytes per second */
	le16(out, 1);          /* block align */
	le16(out, 8);          /* bits per sample */
	if (list) {
		buf_puts(out, "LIST");
		le32(out, list);
		buf_puts(out, "INFOICMT");
		le32(out, wlen);
		buf_append(out, words, wlen);
		if (wlen & 1)
			buf_putc(out, '\0');
	}
	buf_puts(out, "data");
	le32(out, samples);
	/* A quiet 400 Hz square wave: 8-bit PCM is unsigned, 128 is silence. */
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i / 10) % 2 ? 0x88 : 0x78;
	for (uint32_t left = samples; left > 0;) {
		uint32_t n = left < sizeof(block) ? left : (uint32_t)sizeof(block);
		buf_append(out, block, n);
		left -= n;
	}
	if (samples & 1)
		buf_putc(out, '\0');
}

void sim_audio_mp3(int seconds, struct buf *out)
{
	/* MPEG-1 Layer III, 32 kbit/s, 44.1 kHz, mono, no CRC: 104-byte
	 * frames of 1152 samples; a frame of zeros after its header decodes
	 * as silence. */
	static const unsigned char head[4] = { 0xFF, 0xFB, 0x10, 0xC0 };
	unsigned char frame[104];
	long frames;

	seconds = clamp_seconds(seconds);
	frames = ((long)seconds * 44100 + 1151) / 1152;
	memset(frame, 0, sizeof(frame));
	memcpy(frame, head, sizeof(head));
	for (long i = 0; i < frames; i++)
		buf_append(out, frame, sizeof(frame));
}

char *sim_audio_wav_words(const unsigned char *data, size_t len)
{
	size_t at = 12;
	if (len < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WAVE", 4) != 0)
		return NULL;
	while (at + 8 <= len) {
		uint32_t n = rd32(data + at + 4);
		if (n > len - at - 8)
			return NULL;
		if (memcmp(data + at, "LIST", 4) == 0 && n >= 4 && memcmp(data + at + 8, "INFO", 4) == 0) {
			size_t p = at + 12, end = at + 8 + n;
			while (p + 8 <= end) {
				uint32_t m = rd32(data + p + 4);
				if (m > end - p - 8)
					return NULL;
				if (memcmp(data + p, "ICMT", 4) == 0) {
					char *w = xstrndup((const char *)data + p + 8, m);
					for (char *q = w; *q; q++)
						if ((unsigned char)*q < 0x20)
							*q = ' ';
					return w;
				}
				p += 8 + m + (m & 1);
			}
		}
		at += 8 + (size_t)n + (n & 1);
	}
	return NULL;
}
