/* board_host.c - the example as a Linux program: the log from standard input, raw lines or,
 * with --events, "SESSION INDEX" lines; output to stdout (verdicts) and stderr. */
#include <stdio.h>
#include <string.h>

#include "board.h"

int board_input_start(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], "--events") == 0;
}

int board_input_byte(void)
{
    int ch = getchar();
    return ch == EOF ? -1 : ch;
}

int board_write(int fd, const char *data, size_t len)
{
    FILE *stream = fd == 1 ? stdout : stderr;
    return fwrite(data, 1, len, stream) != len;
}

int board_ticks(unsigned long *ticks)
{
    *ticks = 0; /* a host program has better clocks than this example needs */
    return 0;
}
