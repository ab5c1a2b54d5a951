"""Signals the grid tree sends. Apps that keep numbers derived from the tree (the screening
rollup's households_total and leaves_expected, and every ancestor's sums) listen, so this
app does not depend on them.

tree_changed is sent inside the transaction that changed the tree, so a listener's own
writes commit with the change or not at all. `history` is True when the change re-arranges
where existing grids sit (a move), which changes the sums of earlier days too; False when
it only adds grids or households, or changes them today.
"""

from django.dispatch import Signal

tree_changed = Signal()  # kwargs: history (bool)
