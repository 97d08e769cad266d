/* Resident for the console differential test: what the modules import. */
int k_table[4] = { 100, 200, 300, 400 };
int k_add(int a, int b) { return a + b; }
#ifndef GAMEVM_HOST
void _start(void) { }
#endif
