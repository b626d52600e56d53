/*
 * board.h - what the example needs from where it runs: the log it replays and somewhere to
 * write. Two boards implement it:
 *
 *   board_host.c   a Linux program: the log from standard input, output to stdout and stderr
 *   board_mps2.c   QEMU's mps2-an386: the log compiled into the image (a generated
 *                  example_input.c), output through semihosting (startup.c, mps2_an386.ld)
 *
 * A real firmware has no "input": it calls the example's log_line()/log_event() hooks where it
 * logs, and its board_write() feeds a UART or a radio.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>

/* Prepares the input; returns 1 when it holds structured events ("SESSION INDEX" per line),
 * 0 when it holds raw log lines. argc/argv: the program's (a board without them gets 0, {NULL}). */
int board_input_start(int argc, char **argv);

/* The input's next byte (0..255), or -1 at its end. */
int board_input_byte(void);

/* Writes verdicts (fd 1) or a diagnostic (fd 2); 0 on success. */
int board_write(int fd, const char *data, size_t len);

/* A free-running count of processor clock ticks (wrapping), for timing a short piece of work:
 * 1 and *ticks set, or 0 on a board without such a timer. */
int board_ticks(unsigned long *ticks);

/* How many bits of board_ticks() count before it wraps (what a difference is taken modulo). */
#define BOARD_TICK_BITS 24

#endif /* BOARD_H */
