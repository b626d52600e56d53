/* board_mps2.c - the example on QEMU's mps2-an386: it replays the input compiled into the
 * image (example_input.c, generated from a log by alog_detect.firmware.render_input) and writes
 * through semihosting, which QEMU turns into its own stdout and stderr. */
#include <stdint.h>

#include "board.h"
#include "example_input.h"
#include "semihost.h"

/* How far the replay has got: the board's one piece of state, like a UART driver's. */
static size_t input_position;

int board_input_start(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    input_position = 0;
    return example_input_events;
}

int board_input_byte(void)
{
    return input_position < example_input_size ? example_input[input_position++] : -1;
}

int board_write(int fd, const char *data, size_t len)
{
    return semihost_write(fd, data, len);
}
