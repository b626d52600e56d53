/*
 * semihost.h - Arm semihosting: the debugger (here QEMU, -semihosting-config enable=on) does a
 * program's I/O for it. Each call stops the CPU on `bkpt 0xab` and hands the host a request; a
 * real board would send the same bytes to a UART instead.
 */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>

/* Writes len bytes to the host's standard output (fd 1) or standard error (fd 2); 0 on success. */
int semihost_write(int fd, const void *data, size_t len);

/* Ends the program: the host (QEMU) exits with `status`. */
void semihost_exit(int status) __attribute__((noreturn));

#endif /* SEMIHOST_H */
