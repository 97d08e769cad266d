/* Archive member nothing needs: it must not be linked (if it were, its
 * reference to a symbol nobody defines would make the link fail).  It also
 * defines opt_hook, which main.c references only weakly: a weak undefined
 * reference does not pull an archive member (GNU ld semantics). */
extern int symbol_nobody_defines(int);

void opt_hook(void)
{
}

int lib_unused(int x)
{
    return symbol_nobody_defines(x) + 1;
}
