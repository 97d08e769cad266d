/* stb_image (Debian's libstb-dev, /usr/include/stb) built as a GameVM module: the image
 * decoders from memory (no stdio), without HDR and linear float output (they need
 * libm); asserts off as in a release build; no thread-local failure reason (a module
 * has no TLS).  The allocator and the few libc functions it calls are imported from the
 * resident (include/ declares them).  Measured by bench/bench_relocs.py. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_NO_THREAD_LOCALS
#define STBI_ASSERT(x) ((void)0)
#include <stb_image.h>
