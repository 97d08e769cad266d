/* The example's resident: nothing but the entry point; the inner interpreter
 * (gamevm thread --interpreter) is linked in beside it. */
void _start(void) { for (;;) ; }
