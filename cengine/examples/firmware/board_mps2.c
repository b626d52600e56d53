/* board_mps2.c - the example on QEMU's mps2-an386: it replays the input compiled into the
 * image (example_input.c, generated from a log by alog_detect.firmware.render_input) and writes
 * through semihosting, which QEMU turns into its own stdout and stderr. */
#include <stdint.h>

#include "board.h"
#include "example_input.h"
#include "semihost.h"

/* How far the replay has got: the board's one piece of state, like a UART driver's. */
static size_t input_position;

/* SysTick, the Cortex-M core's 24-bit down-counter, counting the processor clock (CLKSOURCE):
 * on a board, core cycles; under QEMU with -icount shift=0, where every instruction takes 1 ns of
 * virtual time and the AN386's clock is 25 MHz, one tick per 40 instructions. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_ENABLE_PROCESSOR_CLOCK 5u

int board_input_start(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    input_position = 0;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = SYST_ENABLE_PROCESSOR_CLOCK;
    return example_input_events;
}

int board_ticks(unsigned long *ticks)
{
    *ticks = 0xFFFFFFu - SYST_CVR; /* counting down: the ticks since the last wrap */
    return 1;
}

int board_input_byte(void)
{
    return input_position < example_input_size ? example_input[input_position++] : -1;
}

int board_write(int fd, const char *data, size_t len)
{
    return semihost_write(fd, data, len);
}
