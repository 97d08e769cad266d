"""``gamevm`` subcommands, one module each.

A command module defines ``register(subparsers, cli)``: it adds its parser and
sets ``func`` to a function taking the parsed args and returning the exit
status.  ``cli`` is :mod:`gamevm_build.cli` (shared argument types such as
``cli.target_type`` and ``cli.parse_int``).  Listing a module in
:data:`COMMANDS` is all it takes to add a command.
"""

COMMANDS = ["module", "resident", "prelink", "inspect", "pack", "budget", "call", "run", "registry", "layout", "sign", "verify", "schema", "new", "dev", "reload", "thread"]
