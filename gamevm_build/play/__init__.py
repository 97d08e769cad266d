"""Running a game on the emulated console: boot, call, validate, play scenarios.

:mod:`~gamevm_build.play.console` boots a resident on a console's emulated CPU
(:mod:`gamevm_build.emu`) with a loader (:mod:`gamevm_build.runtime`) behind its
traps; :mod:`~gamevm_build.play.callexpr` parses ``gamevm call`` expressions;
:mod:`~gamevm_build.play.validate` runs the modules' self tests (``GameVMValidate``);
:mod:`~gamevm_build.play.scenario` plays scripted scenes and records the load
trace the budget analyzer checks (``gamevm budget --check-trace``), on the host's
reference loader or, through :mod:`~gamevm_build.play.target_scenario` and
:mod:`~gamevm_build.play.target_trace`, on the resident's console-side C runtime.

This is the top world: it may import every other, and only ``cli``, ``commands``
and the SCons tool import it.
"""
