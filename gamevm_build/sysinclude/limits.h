/*
 * The "system" limits.h of a console: there is none.
 *
 * Console code is compiled with -nostdinc and the compiler's own freestanding
 * headers (gamevm_build.link.toolchain).  The limits.h of gcc's *-linux-gnu
 * cross compilers expects a C library's limits.h after its own and reaches
 * for it with #include_next even under -ffreestanding; without one it fails
 * ("no include path in which to search for limits.h").  gcc's limits.h
 * defines everything freestanding code needs (CHAR_BIT, INT_MAX, ...), so the
 * header it falls through to is empty.  This directory is searched last
 * (-idirafter), so a limits.h of your own on -I still wins.
 */
