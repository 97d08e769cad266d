/* text.c - decimal formatting for the HUD's GameVMPrint lines (no C library here). */
#include "hud.h"

char *hud_put_int(char *p, int v)
{
    char digits[12];
    int n = 0;
    unsigned u = v < 0 ? -(unsigned)v : (unsigned)v;

    if (v < 0)
        *p++ = '-';
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (n > 0)
        *p++ = digits[--n];
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
