/* The part of <stdlib.h> the stb libraries in this directory call: a module is
 * freestanding, and a resident that loads them must export these. */
#ifndef GVM_STB_STDLIB_H
#define GVM_STB_STDLIB_H
#include <stddef.h>
void *malloc(size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
int abs(int x);
long strtol(const char *s, char **end, int base);
double strtod(const char *s, char **end);
#endif
