/* Resident side of the native-differential corpus: runtime services modules import. */
#include "shared.h"

int k_counter;
int k_log[16];
const char k_banner[] = "GameVM";

int k_add(int a, int b) { return a + b; }
int k_mix(int a, int b, int c, int d, int e, int f) { return a * 1 + b * 2 + c * 3 + d * 4 + e * 5 + f * 6; }
void k_record(int v) { k_log[k_counter & 15] = v; k_counter++; }
int k_strlen(const char *s) { int n = 0; while (s[n]) n++; return n; }
unsigned k_hash(const char *s) { unsigned h = 2166136261u; while (*s) { h ^= (unsigned char)*s++; h *= 16777619u; } return h; }
void *memset(void *d, int c, unsigned long n) { unsigned char *p = d; while (n--) *p++ = (unsigned char)c; return d; }
void *memcpy(void *d, const void *s, unsigned long n) { unsigned char *a = d; const unsigned char *b = s; while (n--) *a++ = *b++; return d; }

#ifndef GAMEVM_HOST
void _start(void) { for (;;) ; }
#endif
