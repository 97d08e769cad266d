/* C entry points of the threaded module: gamevm call and C callers run the threads'
 * exported words through the resident's interpreter (gamevm_thread.h). */
#include "gamevm_thread.h"

extern const struct gvm_thread_word simulate, checksum;

int32_t run_simulate(int32_t n, int32_t steps) { return gvm_thread_call(&simulate, n, steps, 0); }
int32_t run_checksum(int32_t n) { return gvm_thread_call(&checksum, n, 0, 0); }
