"""docs/budget.md's table of the runtime's measured costs is costs.json's figures."""

import json
import sys

from conftest import REPO


def test_budget_doc_table_is_the_measured_costs():
    """``bench/measure_runtime_costs.py --write`` rewrites the table with the file; a
    hand edit of either one (or a file re-measured without the table) fails here."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import measure_runtime_costs as m
    finally:
        sys.path.remove(str(REPO / "bench"))
    from gamevm_build.runtime.build import COSTS_FILE

    table = m.cost_table(json.loads(COSTS_FILE.read_text()))
    assert table in (REPO / "docs" / "budget.md").read_text(), table
