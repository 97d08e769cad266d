/* text.c - decimal formatting for the HUD's GameVMPrint lines (no C library here). */
#include "hud.h"

char *hud_put_int(char *p, int v)
{
    /* digits by subtracting powers of ten: no division, which the 68000 and the ARM
     * cores only have as library calls and the 3DO's ARM60 not even as a long multiply */
    static const unsigned pow10[] = {1000000000u, 100000000u, 10000000u, 1000000u,
                                     100000u, 10000u, 1000u, 100u, 10u, 1u};
    unsigned u = v < 0 ? -(unsigned)v : (unsigned)v;
    int i, started = 0;

    if (v < 0)
        *p++ = '-';
    for (i = 0; i < (int)(sizeof pow10 / sizeof pow10[0]); i++) {
        char d = '0';
        while (u >= pow10[i]) {
            u -= pow10[i];
            d++;
        }
        if (d != '0' || started || i == (int)(sizeof pow10 / sizeof pow10[0]) - 1) {
            *p++ = d;
            started = 1;
        }
    }
    *p = '\0';
    return p;
}

char *hud_put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    *p = '\0';
    return p;
}
