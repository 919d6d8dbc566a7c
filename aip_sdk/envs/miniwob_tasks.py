"""Which MiniWoB++ tasks the ``miniwob`` suite offers, and why the others are refused.

The suite acts by clicking DOM elements and by typing strings that the task's instruction and
fields contain (:func:`aip_sdk.envs.miniwob.typed_strings`). A task is offered when
``benchmarks/miniwob_reach.py`` found a sequence of those actions that earns reward 1 on one of
its seeds; its step limit is twice that solution's length plus two. The others are refused with
the reason: it needs dragging, drawing, a slider, scrolling, timing, a canvas, or typing a
string that must be computed (a sum, a word read off the page), or the search found no solution
within its budget. Families (a task and its variants) are held out
whole in the ``test_tasks`` split.
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "FIRST_TASKS",
    "HELD_OUT_FAMILIES",
    "OUT_OF_SCOPE",
    "REGISTERED",
    "SOLUTION_STEPS",
    "MiniWobTask",
    "catalogue",
    "family",
]

# Every task of miniwob 1.0 (gymnasium ids miniwob/NAME-v1).
REGISTERED: tuple[str, ...] = (
    "ascending-numbers", "bisect-angle", "book-flight", "book-flight-nodelay", "buy-ticket",
    "choose-date", "choose-date-easy", "choose-date-medium", "choose-date-nodelay",
    "choose-list", "circle-center", "click-button", "click-button-sequence", "click-checkboxes",
    "click-checkboxes-large", "click-checkboxes-soft", "click-checkboxes-transfer",
    "click-collapsible", "click-collapsible-2", "click-collapsible-2-nodelay",
    "click-collapsible-nodelay", "click-color", "click-dialog", "click-dialog-2", "click-link",
    "click-menu", "click-menu-2", "click-option", "click-pie", "click-pie-nodelay",
    "click-scroll-list", "click-shades", "click-shape", "click-tab", "click-tab-2",
    "click-tab-2-easy", "click-tab-2-hard", "click-tab-2-medium", "click-test", "click-test-2",
    "click-test-transfer", "click-widget", "copy-paste", "copy-paste-2", "count-shape",
    "count-sides", "daily-calendar", "drag-box", "drag-circle", "drag-cube", "drag-items",
    "drag-items-grid", "drag-shapes", "drag-shapes-2", "drag-single-shape", "drag-sort-numbers",
    "draw-circle", "draw-line", "email-inbox", "email-inbox-delete", "email-inbox-forward",
    "email-inbox-forward-nl", "email-inbox-forward-nl-turk", "email-inbox-important",
    "email-inbox-nl-turk", "email-inbox-noscroll", "email-inbox-reply",
    "email-inbox-star-reply", "enter-date", "enter-password", "enter-text", "enter-text-2",
    "enter-text-dynamic", "enter-time", "find-greatest", "find-midpoint", "find-word",
    "focus-text", "focus-text-2", "form-sequence", "form-sequence-2", "form-sequence-3",
    "generate-number", "grid-coordinate", "guess-number", "highlight-text", "highlight-text-2",
    "hot-cold", "identify-shape", "login-user", "login-user-popup", "multi-layouts",
    "multi-orderings", "navigate-tree", "number-checkboxes", "odd-or-even", "order-food",
    "phone-book", "read-table", "read-table-2", "resize-textarea", "right-angle", "scroll-text",
    "scroll-text-2", "search-engine", "sign-agreement", "simple-algebra", "simple-arithmetic",
    "social-media", "social-media-all", "social-media-some", "stock-market", "terminal",
    "text-editor", "text-transform", "tic-tac-toe", "unicode-test", "use-autocomplete",
    "use-autocomplete-nodelay", "use-colorwheel", "use-colorwheel-2", "use-slider",
    "use-slider-2", "use-spinner", "visual-addition",
)  # fmt: skip

# Read from the task definitions (html/miniwob/*.html): these need more than clicks on elements
# and typing the instruction's strings, so the reach search does not try them.
_DRAG = "needs dragging with the mouse (no click or typing reaches it)"
_DRAW = "needs drawing with the mouse"
_POINT = "needs a click at computed page coordinates, not on an element"
_SLIDER = "needs a slider or colour wheel (dragging)"
_COMPUTE = (
    "needs typing a string that must be computed or read off the page, which the instruction "
    "and fields do not contain"
)
_TIMING = "needs waiting for the page to change (timing), which a step-by-step agent cannot"
_CANVAS = "draws its content on a canvas: the DOM does not show it"
_SCROLL = "needs scrolling inside an element"
OUT_OF_SCOPE: dict[str, str] = {
    **dict.fromkeys(
        ("drag-box", "drag-circle", "drag-cube", "drag-items", "drag-items-grid", "drag-shapes",
         "drag-shapes-2", "drag-single-shape", "drag-sort-numbers", "highlight-text",
         "highlight-text-2", "resize-textarea", "text-editor"),
        _DRAG,
    ),
    **dict.fromkeys(("draw-circle", "draw-line", "bisect-angle", "right-angle"), _DRAW),
    **dict.fromkeys(("circle-center", "find-midpoint", "hot-cold"), _POINT),
    **dict.fromkeys(("use-slider", "use-slider-2", "use-colorwheel", "use-colorwheel-2",
                     "form-sequence"), _SLIDER),
    **dict.fromkeys(("copy-paste", "copy-paste-2", "enter-text-2", "find-word", "read-table",
                     "read-table-2", "scroll-text", "simple-algebra", "simple-arithmetic",
                     "text-transform", "visual-addition", "guess-number", "terminal"), _COMPUTE),
    "stock-market": _TIMING,
    "count-sides": _CANVAS,
    "scroll-text-2": _SCROLL,
}  # fmt: skip

_NOT_FOUND = (
    "has no solution that benchmarks/miniwob_reach.py could find: no sequence of clicks and "
    "typed instruction strings earned reward 1 within 120 environment steps on seed 0"
)

# Solution lengths the reach search found (python benchmarks/miniwob_reach.py --seeds 0
# --budget 120; a random solution can be longer than the shortest one).
SOLUTION_STEPS: dict[str, int] = {
    "ascending-numbers": 5,
    "buy-ticket": 1,
    "click-button-sequence": 2,
    "click-button": 1,
    "click-checkboxes-transfer": 1,
    "click-checkboxes": 2,
    "click-collapsible-2-nodelay": 2,
    "click-collapsible-2": 2,
    "click-collapsible-nodelay": 2,
    "click-collapsible": 2,
    "click-dialog-2": 1,
    "click-dialog": 2,
    "click-link": 1,
    "click-menu-2": 3,
    "click-menu": 1,
    "click-option": 3,
    "click-pie-nodelay": 1,
    "click-pie": 1,
    "click-shape": 1,
    "click-tab-2-easy": 1,
    "click-tab-2-hard": 1,
    "click-tab-2-medium": 2,
    "click-tab-2": 4,
    "click-tab": 1,
    "click-test-2": 1,
    "click-test-transfer": 1,
    "click-test": 1,
    "click-widget": 1,
    "count-shape": 1,
    "email-inbox-delete": 3,
    "email-inbox-important": 3,
    "email-inbox-nl-turk": 8,
    "email-inbox-reply": 4,
    "email-inbox-star-reply": 4,
    "enter-date": 2,
    "enter-password": 3,
    "enter-text-dynamic": 2,
    "enter-text": 2,
    "enter-time": 3,
    "focus-text-2": 1,
    "focus-text": 1,
    "grid-coordinate": 1,
    "identify-shape": 1,
    "login-user-popup": 5,
    "login-user": 3,
    "navigate-tree": 1,
    "phone-book": 6,
    "search-engine": 8,
    "sign-agreement": 1,
    "social-media": 4,
    "tic-tac-toe": 3,
}

_VARIANT = re.compile(
    r"(-(nodelay|easy|medium|hard|transfer|soft|large|popup|nl|turk|all|some|delete|forward"
    r"|important|noscroll|reply|star|\d+))+$"
)

# The first ten tasks of the suite, in the order benches and traces used before the catalogue
# grew: ``--episodes 10`` on ``test`` still plays them.
FIRST_TASKS = (
    "click-test-2", "click-button", "click-link", "click-dialog", "enter-text", "focus-text",
    "login-user", "click-checkboxes", "click-tab", "click-option",
)  # fmt: skip

# Whole families never trained on (the ``test_tasks`` split): page kinds unlike the first ten.
HELD_OUT_FAMILIES: tuple[str, ...] = (
    "click-collapsible", "click-pie", "email-inbox", "enter-time", "navigate-tree", "phone-book",
    "search-engine", "social-media", "tic-tac-toe",
)  # fmt: skip


def family(task: str) -> str:
    """A task's family: its name without variant suffixes (``email-inbox-forward-nl`` ->
    ``email-inbox``, ``click-tab-2-hard`` -> ``click-tab``, ``choose-date-nodelay`` ->
    ``choose-date``). Variants share a page and differ in wording or difficulty, so a family is
    held out whole."""
    return _VARIANT.sub("", task) or task


@attrs.frozen
class MiniWobTask:
    """One MiniWoB++ task as the suite sees it.

    Attributes:
        name: the task (``miniwob/NAME-v1``).
        family: see :func:`family`.
        steps: the length of the solution the reach search found; ``None`` when out of reach.
        reason: why the suite refuses it (empty when offered).
    """

    name: str
    family: str
    steps: int | None
    reason: str = ""

    @property
    def offered(self) -> bool:
        return self.steps is not None

    @property
    def max_steps(self) -> int:
        """The episode's step limit: twice the solution found plus two (at least 4), so a
        form with five fields gets 12 steps and a single click 4."""
        return max(4, 2 * (self.steps or 1) + 2)


def catalogue() -> dict[str, MiniWobTask]:
    """Every registered task, offered or refused with its reason; the first ten first."""
    names = list(FIRST_TASKS) + [t for t in REGISTERED if t not in FIRST_TASKS]
    out = {}
    for name in names:
        steps = SOLUTION_STEPS.get(name)
        reason = "" if steps else OUT_OF_SCOPE.get(name, _NOT_FOUND)
        out[name] = MiniWobTask(name, family(name), steps, reason)
    return out
