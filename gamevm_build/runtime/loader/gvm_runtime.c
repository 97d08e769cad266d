/*
 * gvm_runtime.c - the console-side runtime as one translation unit.
 *
 * gamevm_build compiles only this file: the loader's parts share static
 * functions (nothing but the API reaches the resident's symbol table) and -Os
 * optimises the loader as a whole.  Each part stays its own file to read.
 */
#include "../codec/gvm_lz4.c"
#include "gvm_meta.c"
#include "gvm_reloc.c"
#include "gvm_sync.c"
#include "gvm_emu_reader.c"
#include "gvm_loader.c"
#include "gvm_stubs.c"
#include "gvm_reload.c"
#ifdef GVM_CODEC_ZX0                /* the profile's codecs (gvm_target.h) */
#include "../codec/gvm_zx0.c"
#endif
#include "gvm_relpack.c"
#include "gvm_trust.c"
