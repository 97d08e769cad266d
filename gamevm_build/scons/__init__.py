"""SCons integration of gamevm_build.

The tool module itself is :mod:`gamevm_build.scons.gamevm`; SCons loads tools
by file name from a *tool path*, so point ``toolpath`` at :data:`TOOLPATH`::

    import gamevm_build.scons
    env = Environment(tools=['default', 'gamevm'],
                      toolpath=[gamevm_build.scons.TOOLPATH],
                      GAMEVM_TARGET='psx')

A project can instead carry ``site_scons/site_tools/gamevm/__init__.py`` that
re-exports ``generate`` and ``exists`` from :mod:`gamevm_build.scons.gamevm`
(this repository's root does).
"""

from __future__ import annotations

import os

__all__ = ["TOOLPATH"]

#: Directory holding the ``gamevm`` SCons tool module (``gamevm.py``).
TOOLPATH = os.path.dirname(os.path.abspath(__file__))
