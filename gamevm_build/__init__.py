"""gamevm_build: build, link, analyse and validate GameVM games for retro consoles."""

__version__ = "0.1.0"

import os as _os

#: Directory of the headers game code includes (``gamevm.h``): the CLI and the SCons
#: tool put it on the include path.
INCLUDE_DIR = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")
