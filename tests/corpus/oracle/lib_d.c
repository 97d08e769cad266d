/* Archive member that defines (with an initializer) shared_common, which the
 * objects only declare as COMMON (tentative, -fcommon).  GNU ld pulls such a
 * member: a real definition in an archive replaces a common symbol
 * (bfd/elflink.c, elf_link_is_defined_archive_symbol), so shared_common
 * starts as 5, not 0. */
int shared_common = 5;
int lib_d_marker = 7;
