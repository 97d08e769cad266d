/* Declarations shared by the corpus (kernel <-> physics <-> level). */
#ifndef SHARED_H
#define SHARED_H
extern int k_counter;
extern int k_log[16];
extern const char k_banner[];
int k_add(int a, int b);
int k_mix(int a, int b, int c, int d, int e, int f);
void k_record(int v);
int k_strlen(const char *s);
unsigned k_hash(const char *s);

/* physics */
int phys_fx_mul(int a, int b);
int phys_sin(int angle);
int phys_step(int pos, int vel);
int phys_field_sum(int from, int count);
extern int phys_gravity;
#endif
