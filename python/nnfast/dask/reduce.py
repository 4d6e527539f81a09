"""The fixed-order sum of per-partition results: a binary tree over the partitions in index
order, whatever the workers, so the same chunks give the same bits on any cluster."""
from typing import List

from distributed import Future

from .tasks import add


def tree_sum(client, parts: List[Future]) -> Future:
    """((p0 + p1) + (p2 + p3)) + ... as tasks on the workers: pairs of neighbours at each
    level, an odd last one carried up as it is."""
    level = list(parts)
    while len(level) > 1:
        paired = [client.submit(add, level[i], level[i + 1], pure=False)
                  for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
