/* sim_callee: who answers a simulated phone number and what they do.
 *
 * A behaviour is written as one line of steps separated by ';', the first
 * naming how the line answers:
 *
 *   person; ring 2; wait 1; press 1; wait 1.5; press 2
 *   person; press 1; hangup                 hangs up mid-call
 *   person; silence; press 1                lets one Gather time out
 *   machine                                 answers and stays silent
 *   machine answered_by=machine_end_beep    the AnsweredBy value reported
 *                                           when detection was requested
 *   busy | no-answer | fail
 *   person; sms-reply "C"                   replies to an SMS it receives
 *   person; sms-reply "STOP"; sms-wait 5; sms-reply "START"
 *                                           texts several times, in order
 *   person; sms-undelivered 30003           its SMS are not delivered
 *   person; press 123456; speak 3 "Hello"; press #   records a greeting
 *
 * Steps: `ring S` (seconds before answering, default 1), `wait S`
 * (silence: a Record's timeout counts it), `speak S ["WORDS"]` (S seconds
 * of speech, heard by a Record; the words are what a later Play of the
 * recording says; elsewhere the callee just talks over the prompts),
 * `press DIGITS` (0-9 * #), `silence`, `hangup`, `expect "TEXT"` (what
 * the callee must have heard since the previous step, case-insensitive;
 * used by `ringfence-sim simulate`), `expect-hangup`, `sms-reply "TEXT"`,
 * `sms-wait S`, `sms-undelivered CODE`.  `sms-reply` may be given up to
 * SIM_CALLEE_MAX_SMS_REPLIES times: after an SMS it receives is delivered
 * the callee sends each text in turn, 2 seconds apart, or S seconds after
 * the one before when an `sms-wait S` comes between them.  A person's keypresses go, in order, into the
 * Gathers the call meets; with no step left a person stays silent.
 *
 * A script file holds one "NUMBER BEHAVIOUR" per line (E.164 number, '#'
 * starts a comment). */
#ifndef RF_SIM_CALLEE_H
#define RF_SIM_CALLEE_H

#include <stddef.h>

enum sim_answer {
	SIM_ANSWER_PERSON,
	SIM_ANSWER_MACHINE,
	SIM_ANSWER_BUSY,
	SIM_ANSWER_NO_ANSWER,
	SIM_ANSWER_FAIL,
};

enum sim_step_kind {
	SIM_STEP_WAIT,          /* seconds */
	SIM_STEP_PRESS,         /* text: the digits */
	SIM_STEP_SILENCE,       /* one Gather gets nothing */
	SIM_STEP_HANGUP,        /* the callee hangs up here */
	SIM_STEP_EXPECT,        /* text: must have been heard */
	SIM_STEP_EXPECT_HANGUP, /* the application must hang up here */
	SIM_STEP_SPEAK,         /* seconds of speech; text: the words, "" when not given */
};

#define SIM_CALLEE_MAX_STEPS 64
#define SIM_CALLEE_MAX_TEXT 256
#define SIM_CALLEE_MAX_SMS_REPLIES 4
#define SIM_CALLEE_SMS_GAP_S 2.0

struct sim_step {
	enum sim_step_kind kind;
	double seconds;
	char text[SIM_CALLEE_MAX_TEXT];
};

struct sim_callee {
	enum sim_answer answer;
	double ring_s;                 /* before answering (or giving up) */
	char answered_by[24];          /* AnsweredBy when detection is on */
	struct sim_step steps[SIM_CALLEE_MAX_STEPS];
	int nsteps;
	int nsms_replies;              /* the texts it sends after an SMS it receives */
	struct sim_sms_reply {
		double wait_s;         /* after the SMS (or the previous text) */
		char text[1601];
	} sms_replies[SIM_CALLEE_MAX_SMS_REPLIES];
	int sms_error_code;            /* 0: delivered; else undelivered with this code */
};

/* The behaviour of a number no script names: a person who answers after
 * one ring and presses nothing. */
void sim_callee_default(struct sim_callee *out);

/* Parses one behaviour line into out.  Returns 0, or -1 with a one-line
 * reason naming the bad step in err. */
int sim_callee_parse(const char *spec, struct sim_callee *out, char *err, size_t errlen);

/* Reads a script file, calling fn for each "NUMBER BEHAVIOUR" line (the
 * spec as written and parsed).  Stops at the first bad line or when fn
 * returns non-zero.  Returns 0, or -1 with "FILE:LINE: reason" in err. */
int sim_callee_load_file(const char *path,
	int (*fn)(void *ctx, const char *number, const char *spec, const struct sim_callee *c),
	void *ctx, char *err, size_t errlen);

#endif
