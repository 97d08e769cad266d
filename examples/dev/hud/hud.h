/* hud.h - the HUD module's own helpers (text.c). */
#ifndef DEV_HUD_H
#define DEV_HUD_H

char *hud_put_int(char *p, int v);
char *hud_put_str(char *p, const char *s);

#endif
