"""Static analysis of a GameVM game: load budgets, memory fit and overlay safety.

One networkx graph holds the project (:mod:`gamevm_build.analysis.graph`): modules with
their sizes, relocation counts, imports and exports, import edges to their
providers, scenes and the flow graph of transitions between them.  Pure
functions over it, by topic:

* :mod:`gamevm_build.analysis.plans`: residency dataflow over the flow graph, load plans,
  head positions;
* :mod:`gamevm_build.analysis.timing`: worst-case load time of every transition, module by module;
* :mod:`gamevm_build.analysis.streaming`: stream deadlines and double-buffer safety;
* :mod:`gamevm_build.analysis.memory`: region fit, overlay occupancy, peak RAM per scene;
* :mod:`gamevm_build.analysis.closure`: unresolved imports, dependency cycles, unreachable
  scenes, unused modules;
* :mod:`gamevm_build.analysis.budget`: all of them at once (:func:`analyze`) and the report dict;
* :mod:`gamevm_build.analysis.report`: text, JSON, Markdown, JUnit and HTML renderers;
* :mod:`gamevm_build.analysis.simulate`: one concrete walk, step by step, with the same models.

``gamevm budget`` (docs/budget.md) and the SCons builder ``GameVMBudget`` use
:func:`check_project`.

Examples
--------
>>> from gamevm_build import analysis
>>> G = analysis.graph_from_dict({
...     "target": "psx",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "1MB"}]},
...     "modules": {"level": {"region": "Main", "estimate": {"size": "64KB"}}},
...     "scenes": {"menu": {"modules": []}, "level": {"modules": ["level"]}},
...     "transitions": [{"from": "menu", "to": "level", "budget_ms": 2000}]})
>>> analysis.analyze(G).ok
True
"""

from .budget import REPORT_SCHEMA, BudgetResult, analyze, check_project
from .findings import Finding
from .graph import build_graph, graph_from_dict, graph_from_project
from .model import ModuleInfo, Project, ResidentInfo, load_project
from .report import FORMATS, SUFFIXES, render

__all__ = ["REPORT_SCHEMA", "BudgetResult", "analyze", "check_project", "Finding",
           "build_graph", "graph_from_dict", "graph_from_project", "ModuleInfo", "Project",
           "ResidentInfo", "load_project", "FORMATS", "SUFFIXES", "render"]
