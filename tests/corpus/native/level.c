/* Module "level": imports from physics (a needed module) and the kernel, keeps state,
 * runs a constructor, has a weak import nobody provides. */
#include "shared.h"

extern int phys_apply(int op, int a, int b);
extern int phys_classify(int v);
extern int phys_fill(int seed);
extern int phys_far(void);
extern int phys_bounces(void);
extern int phys_name_len(int i);
extern unsigned phys_name_hash(int i);
extern int phys_body(int i);
extern int optional_hook(int) __attribute__((weak));

static int level_score;
int level_ready;
int level_history[64];
static const char greeting[] = "welcome to level one";

__attribute__((constructor)) static void level_init(void) { level_ready = 42; level_score = 1000; }

int level_ready_value(void) { return level_ready; }
int level_tick(int frame) {
    int pos = phys_step(frame * 3, phys_sin(frame));
    level_history[frame & 63] = pos;
    level_score = k_add(level_score, phys_classify(frame & 7));
    k_record(pos);
    return pos;
}
int level_score_value(void) { return level_score; }
int level_combo(int a, int b) { return phys_apply(a, b, a + 5) + phys_apply(a + 1, b, 3) + phys_apply(a + 2, b, 7); }
int level_mix(int a) { return k_mix(a, a + 1, a + 2, a + 3, a + 4, a + 5); }
int level_greeting_len(void) { return k_strlen(greeting) + k_strlen(k_banner); }
int level_has_hook(void) { return optional_hook ? optional_hook(1) : -99; }
int level_big(int seed) { return phys_fill(seed) + phys_far() + phys_field_sum(seed, 300); }
int level_counter(void) { return k_counter + k_log[(k_counter - 1) & 15]; }
int level_names(void) { return phys_name_len(0) + phys_name_len(1) * 10 + (int)(phys_name_hash(2) & 0xffff); }
int level_bodies(void) { return phys_body(0) + phys_body(1) + phys_body(2) + phys_body(3) + phys_bounces(); }
int level_fx(int a, int b) { return phys_fx_mul(a, b) + phys_gravity; }
