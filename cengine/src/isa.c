/*
 * isa.c - asks the CPU which vector extensions it has (see isa.h).
 *
 * AVX2 needs the CPU's AVX and AVX2 bits and the OS's consent: OSXSAVE set and the XMM and YMM
 * state enabled in XCR0, or the first 256-bit instruction faults. AVX-512F needs its CPU bit
 * and, in XCR0, the opmask and both halves of the ZMM state as well.
 */
#include "isa.h"

#if ALOG_ISA_DISPATCH
#include <cpuid.h>

static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

unsigned alog_isa_detect(void)
{
    unsigned a, b, c, d, isa = 0;
    unsigned long long os;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
        return 0;
    os = xcr0();
    if ((os & 0x6u) != 0x6u || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX2))
        return 0;
    isa = ALOG_ISA_AVX2;
    if ((b & bit_AVX512F) && (os & 0xE6u) == 0xE6u)
        isa |= ALOG_ISA_AVX512;
    return isa;
}
#elif ALOG_ISA_NEON_FORMS
unsigned alog_isa_detect(void)
{
    return ALOG_ISA_NEON; /* every AArch64 Linux CPU has it */
}
#else
unsigned alog_isa_detect(void)
{
    return 0;
}
#endif
