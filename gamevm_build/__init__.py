"""gamevm_build: build, link, analyse and validate GameVM games for retro consoles."""

__version__ = "0.1.0"
