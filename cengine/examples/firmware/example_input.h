/*
 * example_input.h - the log the example replays on a board without a file system, compiled
 * into the image by a generated example_input.c (alog_detect.firmware.render_input: the first
 * lines of a log, as bytes).
 */
#ifndef EXAMPLE_INPUT_H
#define EXAMPLE_INPUT_H

#include <stddef.h>

extern const unsigned char example_input[];  /* (example_input_size) the log's bytes */
extern const size_t example_input_size;
extern const int example_input_events;       /* 1: "SESSION INDEX" lines; 0: raw log lines */

#endif /* EXAMPLE_INPUT_H */
