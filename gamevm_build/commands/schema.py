"""``gamevm schema``: print the JSON schema of project configs or scenarios (docs/config.md).

Editors validate a ``gamevm.json`` against the schema its ``$schema`` names; an
installed package has no stable path to point at, so the schema is written into
the project (``gamevm schema -o gamevm.schema.json``) and named from there.

Exit status: 0 written; 2 usage errors or an output that cannot be written.
"""

from __future__ import annotations

import sys


def run(args) -> int:
    from ..project.config import SCHEMA_PATH

    if args.scenario:
        from ..play.scenario import SCENARIO_SCHEMA

        path = SCHEMA_PATH.with_name(SCENARIO_SCHEMA)
    else:
        path = SCHEMA_PATH
    text = path.read_bytes()
    if args.output:
        from ..fileutil import atomic_write

        atomic_write(args.output, text)
    else:
        sys.stdout.buffer.write(text)
        sys.stdout.flush()
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser(
        "schema", help="print the JSON schema of gamevm.json (or of scenarios) for editors",
        description="Print the JSON schema that project configurations (gamevm.json) are "
                    "checked against, or with --scenario the one of scenario files. Write it "
                    "into your project and name it in the file's \"$schema\" so editors "
                    "complete and check keys: gamevm schema -o gamevm.schema.json, then "
                    "\"$schema\": \"./gamevm.schema.json\". docs/config.md.")
    p.add_argument("--scenario", action="store_true",
                   help="the schema of scenario files (docs/runtime.md) instead")
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE, not stdout")
    p.set_defaults(func=run)
