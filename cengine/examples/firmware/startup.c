/*
 * startup.c - reset and fault handling for a Cortex-M4F, with the vector table.
 *
 * The core starts by loading its stack pointer from word 0 of the vector table and jumping to
 * word 1, Reset_Handler, which prepares what C expects (initialised .data, zeroed .bss, the FPU
 * on), runs main() and ends the program with main's return value through semihosting. Every
 * fault (and any interrupt, none of which the example enables) is reported and ends the
 * program with EXIT_FAULT: a fault never hangs or passes silently.
 *
 * The symbols come from the linker script (mps2_an386.ld).
 */
#include <stddef.h>
#include <stdint.h>

#include "semihost.h"

/* The exit status of a program stopped by a fault (main's own statuses are 0, 3 and 4). */
#define EXIT_FAULT 5

/* Fills the stack before main runs, so that the deepest point it reached can be read back. */
#define STACK_PAINT 0x57AC57ACu

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(int argc, char **argv);
void Reset_Handler(void);
void HardFault_Handler(void);
void Default_Handler(void);

/* ---- reporting, without the C library (the fault may have broken it) ----------------------- */

static void report(const char *text)
{
    size_t len = 0;
    while (text[len])
        len++;
    semihost_write(2, text, len);
}

static void report_hex(const char *name, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char hex[11] = "0x00000000";
    int i;
    for (i = 0; i < 8; i++)
        hex[9 - i] = digits[(value >> (4 * i)) & 0xf];
    report(name);
    report(hex);
}

static void report_decimal(uint32_t value)
{
    char text[11];
    size_t i = sizeof text - 1;
    text[i] = '\0';
    do {
        text[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    report(text + i);
}

/* ---- stack depth -------------------------------------------------------------------------- */

/* Paints the stack from its limit up to 64 bytes below the current stack pointer. */
static void paint_stack(void)
{
    uintptr_t sp;
    uint32_t *word;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (word = __stack_limit; (uintptr_t)word < sp - 64; word++)
        *word = STACK_PAINT;
}

/* Bytes of the stack that were written since paint_stack(): the deepest point main reached. */
static uint32_t stack_used(void)
{
    const uint32_t *word = __stack_limit;
    while (word < __stack_top && *word == STACK_PAINT)
        word++;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)word);
}

/* ---- reset -------------------------------------------------------------------------------- */

/* The System Control Block's Coprocessor Access Control Register: CP10 and CP11 are the FPU. */
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void)
{
    static char *argv[] = {NULL};
    uint32_t *from, *to;
    int status;

    for (from = __data_load, to = __data_start; to < __data_end;)
        *to++ = *from++;
    for (to = __bss_start; to < __bss_end;)
        *to++ = 0;
    /* Full access to the FPU before the first floating-point instruction; -mfloat-abi=hard
     * code uses it anywhere, the C library included. */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    paint_stack();
    status = main(0, argv);
    report("firmware: stack used ");
    report_decimal(stack_used());
    report(" of ");
    report_decimal((uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit));
    report(" bytes\n");
    semihost_exit(status);
}

/* ---- faults ------------------------------------------------------------------------------- */

/* Fault status and address registers (Armv7-M Architecture Reference Manual, B3.2). */
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)

/* frame: what the core pushed on entry (r0-r3, r12, lr, pc, xpsr). */
void hard_fault_report(const uint32_t *frame);
void hard_fault_report(const uint32_t *frame)
{
    report("firmware: hard fault");
    report_hex(": pc ", frame[6]);
    report_hex(" lr ", frame[5]);
    report_hex(" cfsr ", SCB_CFSR);
    report_hex(" hfsr ", SCB_HFSR);
    report_hex(" mmfar ", SCB_MMFAR);
    report_hex(" bfar ", SCB_BFAR);
    report("\n");
    semihost_exit(EXIT_FAULT);
}

/* The stacked frame is on whichever stack was in use: bit 2 of the exception return value in lr
 * says which (the example only uses the main stack, but a firmware with threads would not). */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b hard_fault_report\n\t");
}

void Default_Handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    report_hex("firmware: unexpected exception ", ipsr & 0x1ffu);
    report("\n");
    semihost_exit(EXIT_FAULT);
}

/* ---- the vector table (at address 0: the linker script puts .vectors first) --------------- */

typedef void (*handler)(void);

typedef struct vector_table {
    uint32_t *initial_stack_pointer;
    handler exceptions[15];  /* Reset, NMI, HardFault, ..., SysTick (exception numbers 1..15) */
    handler interrupts[32];  /* the AN386 image's external interrupts */
} vector_table;

#define D Default_Handler
__attribute__((section(".vectors"), used)) static const vector_table vectors = {
    __stack_top,
    {Reset_Handler, D /* NMI */, HardFault_Handler,
     /* MemManage, BusFault, UsageFault: disabled, so they arrive as a HardFault */ D, D, D,
     NULL, NULL, NULL, NULL, D /* SVCall */, D /* DebugMonitor */, NULL, D /* PendSV */,
     D /* SysTick */},
    /* none is enabled, so none should come */
    {D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D},
};
#undef D
