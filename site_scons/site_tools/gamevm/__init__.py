"""SCons tool ``gamevm`` (shim): the tool lives in gamevm_build.scons.gamevm."""
try:
    from gamevm_build.scons.gamevm import generate, exists  # noqa: F401
except ImportError:  # not installed: use the repository this site_scons belongs to
    import os, sys
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 3)))
    from gamevm_build.scons.gamevm import generate, exists  # noqa: F401
