/* stb_c_lexer (Debian's libstb-dev, /usr/include/stb) built as a GameVM module, with its
 * default options; strtol and strtod are imported from the resident (include/stdlib.h).
 * Measured by bench/bench_relocs.py. */
#define STB_C_LEXER_IMPLEMENTATION
#include <stb_c_lexer.h>
