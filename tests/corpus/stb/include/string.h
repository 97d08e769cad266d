/* The part of <string.h> the stb libraries in this directory call (see stdlib.h). */
#ifndef GVM_STB_STRING_H
#define GVM_STB_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif
