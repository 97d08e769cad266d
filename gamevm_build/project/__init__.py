"""What the user declares: the project configuration, console profiles and media timing.

:mod:`~gamevm_build.project.config` reads and validates ``gamevm.json`` (schema in
``gamevm_build/schemas``), :mod:`~gamevm_build.project.profile` loads the consoles'
profiles (``gamevm_build/profiles/*.toml``: consoles as data), and
:mod:`~gamevm_build.project.media` is the one media timing model (CD drives,
cartridge buses) that the analyzer, the layout and the emulated media device share.

Everything else builds on this world; it imports only the shared ``errors`` and
``fileutil``.
"""
