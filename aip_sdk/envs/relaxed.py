"""The delete-relaxation distance of a STRIPS state (Hoffmann and Nebel's FF heuristic).

PDDL suites report it as their ``goal_progress``: how near the goal a state is, in the same
spirit as MiniGrid's distance to the goal that ignores walls. Counting goal atoms that hold
(what these suites reported before) cannot tell most single moves apart (picking up a block
meets no goal atom), so lookahead and peek, which rate each candidate by the progress it makes,
had little to choose by on Blocksworld and Logistics. The relaxed distance ignores what actions
delete: it is computed in polynomial time from the state alone, with no search and no plan, so
it is a hint about the goal that any agent could compute from the domain, never a label (the
good actions of the oracle come from breadth-first search,
:func:`aip_sdk.envs.planbench.good_first_actions`).

The relaxed plan is extracted from additive costs (h_add's best supporters) and its length
counted, as FF does; it is 0 exactly where every goal atom holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from aip_sdk.envs.pddl import Atom, GroundAction

__all__ = ["relaxed_plan_length"]


def relaxed_plan_length(
    actions: Sequence[GroundAction], state: frozenset[Atom], goal: frozenset[Atom]
) -> int | None:
    """The number of actions in a relaxed plan from ``state`` to ``goal`` (h_FF).

    Args:
        actions: the problem's ground actions.
        state: the atoms that hold.
        goal: the atoms to make hold.

    Returns:
        0 where ``goal`` holds; ``None`` where even the relaxed problem has no plan (a dead end).
    """
    if goal <= state:
        return 0
    cost: dict[Atom, int] = dict.fromkeys(state, 0)
    supporter: dict[Atom, int] = {}
    changed = True
    while changed:  # additive costs to a fixed point (Bellman-Ford over the relaxed actions)
        changed = False
        for i, action in enumerate(actions):
            total = 1
            for atom in action.pre:
                c = cost.get(atom)
                if c is None:
                    break
                total += c
            else:
                for atom in action.add:
                    if total < cost.get(atom, total + 1):
                        cost[atom] = total
                        supporter[atom] = i
                        changed = True
    if any(atom not in cost for atom in goal):
        return None
    plan: set[int] = set()
    todo = [atom for atom in goal if cost[atom] > 0]
    done: set[Atom] = set()
    while todo:
        atom = todo.pop()
        if atom in done or cost[atom] == 0:
            continue
        done.add(atom)
        i = supporter[atom]
        if i not in plan:
            plan.add(i)
            todo.extend(actions[i].pre)
    return len(plan)
