"""Load bundles and seek-locality disc layout (docs/layout.md).

The modules a transition loads together form a **load bundle**, placed
contiguously so one seek and one sequential read serve it (seed §5.1).  The
order of bundles and files minimises the flow graph's weighted worst-case load
time under the project's media model, the budget analyzer's own cost; modules
read far from the rest of a load may be duplicated next to it.  A lower bound
says how close the plan is to the physical floor, naive orders how much it
saves.  Outputs: an ISO 9660 image (genisoimage or xorriso, verified by reading
it back with pycdlib) or a cartridge ROM segment, a mkpsxiso project, a C
header of LBAs, the layout file (manifest) the budget analyzer reads, and a
text or HTML report with a disc map.

Modules, by concern:

* :mod:`.problem`: what each load reads and how often (from :mod:`gamevm_build.analysis.plans`);
* :mod:`.cost`: arrangements and their exact weighted worst-case cost;
* :mod:`.bundles`: bundles and the follow graph;
* :mod:`.optimise`: constructions, local search, copies, padding;
* :mod:`.bound`: lower bounds;
* :mod:`.plan`: all of the above for one project;
* :mod:`.iso`, :mod:`.mkpsxiso`, :mod:`.lbaheader`, :mod:`.manifest`, :mod:`.report`: outputs;
* :mod:`.disc`: ``gamevm layout`` and ``env.GameVMDisc``.
"""

from .disc import DiscResult, build_disc, module_files
from .plan import Plan, plan_layout
from .problem import LayoutOptions, Problem, load_problem, problem_from_project

__all__ = ["DiscResult", "build_disc", "module_files", "Plan", "plan_layout",
           "LayoutOptions", "Problem", "load_problem", "problem_from_project"]
