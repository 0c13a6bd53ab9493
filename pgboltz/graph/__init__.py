"""Factor graphs: groups, the graph container, block schedules, unit-level expansion, spec files."""

from .factor_graph import FactorGraph
from .group import Group
from .schedule import Block, BlockPart, as_blocks, check_blocks, derive_blocks

__all__ = ["FactorGraph", "Group", "Block", "BlockPart", "derive_blocks", "check_blocks", "as_blocks"]
