"""The CD game's modules: name -> (kind, region), the one list the SConscript builds and the
configurations place (tests check they agree)."""

SHARED = ("font", "ui", "sfx")
SCREENS = ("title", "menu", "options", "credits")
WORLDS = tuple(f"world{i}" for i in range(1, 11))
MUSIC = tuple(f"music{i}" for i in range(1, 11))
BOSSES = ("boss1", "boss2", "boss3", "boss4")


def modules() -> dict[str, str]:
    """Every data module and its asset kind (assets.py); 'engine' is C only."""
    out = {n: "shared" for n in SHARED}
    out.update({n: "screen" for n in SCREENS})
    out.update({n: "world" for n in WORLDS})
    out.update({n: "music" for n in MUSIC})
    out.update({n: "boss" for n in BOSSES})
    return out


def needs(name: str) -> list[str]:
    """What a module's metadata says it needs: loaded with it, in one request (one read
    stream on the console), so a scene's entry is one LoadModule."""
    kind = modules().get(name)
    if kind == "world":
        return ["engine", "font", "ui", "sfx", "music" + name[5:]]
    return {"title": ["engine", "font", "sfx"], "menu": ["engine", "font", "ui", "sfx"],
            "options": ["engine", "font", "ui"], "credits": ["engine", "font"]}.get(
        name, ["engine"] if kind else [])
