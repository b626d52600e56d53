/*
 * semihost.c - the three semihosting requests the example needs (Arm's "Semihosting for
 * AArch32 and AArch64", version 2.0): open the console, write to it, exit with a status.
 */
#include "semihost.h"

#include <stdint.h>

#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_EXIT_EXTENDED 0x20           /* SYS_EXIT with a status code, also on AArch32 */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
/* SYS_OPEN of the special file ":tt": mode 4 ("w") is standard output, mode 8 ("a") standard
 * error (the STDOUT_STDERR extension, which QEMU implements). */
#define OPEN_MODE_W 4
#define OPEN_MODE_A 8

/* r0: the operation, r1: its argument block; the result comes back in r0. */
static uintptr_t call(uintptr_t operation, const void *arguments)
{
    register uintptr_t r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = arguments;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* The console's handle for fd 1 or 2, opened on first use (-1: the host refused it). The
 * handles are the one piece of state this file keeps; a program opens each at most once. */
static intptr_t console(int fd)
{
    static intptr_t handles[3] = {0, 0, 0};
    if (handles[fd] == 0) {
        const uintptr_t open_args[3] = {(uintptr_t)":tt", fd == 1 ? OPEN_MODE_W : OPEN_MODE_A, 3};
        handles[fd] = (intptr_t)call(SYS_OPEN, open_args);
    }
    return handles[fd];
}

int semihost_write(int fd, const void *data, size_t len)
{
    intptr_t handle;
    if (fd != 1 && fd != 2)
        return -1;
    handle = console(fd);
    if (handle == -1)
        return -1;
    {
        const uintptr_t write_args[3] = {(uintptr_t)handle, (uintptr_t)data, len};
        return call(SYS_WRITE, write_args) == 0 ? 0 : -1; /* the bytes not written */
    }
}

void semihost_exit(int status)
{
    const uintptr_t exit_args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)status};
    call(SYS_EXIT_EXTENDED, exit_args);
    for (;;) /* a host without semihosting returns: stop here */
        __asm__ volatile("wfi");
}
