"""The ``aip-sdk`` command: a thin click layer over the public API.

Heavy imports happen inside the commands. An :class:`~aip_sdk.AipError` becomes a one-line
message and exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from aip_sdk._version import __version__
from aip_sdk.errors import AipError

F = TypeVar("F", bound=Callable[..., Any])


def _fail_cleanly(fn: F) -> F:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AipError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aip-sdk")
def main() -> None:
    """aip-sdk: plan with a local language model, spending compute only where a step needs it."""


@main.command()
@click.option(
    "--suite", default="blocksworld", show_default=True, help="Suite to draw the task from."
)
@click.option(
    "--data", type=click.Path(file_okay=False), default=None, help="The suite's data folder."
)
@click.option("--split", default=None, help="Instance set within the suite (default: the suite's).")
@click.option("--task", "task_id", default=None, help="Task id (default: the split's first task).")
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    envvar="AIP_SDK_MODEL",
    default=None,
    help="GGUF model file (default: the embedded SmolLM2-135M-Instruct).",
)
@click.option("--backend", "backend_name", default="llamacpp", show_default=True)
@click.option("--controller", default=None, help="Strategy spec, e.g. 'ac:threshold=0.95'.")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Step limit.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the PlanResult as JSON.")
@_fail_cleanly
def plan(
    suite: str,
    data: str | None,
    split: str | None,
    task_id: str | None,
    model: str | None,
    backend_name: str,
    controller: str | None,
    max_steps: int | None,
    seed: int,
    as_json: bool,
) -> None:
    """Run one episode of a suite task and report actions, success and cost."""
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.planner import DEFAULT_CONTROLLER_SPEC, Planner
    from aip_sdk.registry import load_backend

    s = load_suite(suite, data)
    if task_id is None:
        task_id = s.tasks(split)[0].task_id
    env = s.make(task_id, split)
    backend = load_backend(backend_name, model_path=model)
    planner = Planner(backend=backend, controller=controller or DEFAULT_CONTROLLER_SPEC, seed=seed)
    limit = max_steps or getattr(env, "max_steps", None)
    try:
        result = planner.plan(env, max_steps=limit, seed=seed)
    finally:
        env.close()
        planner.close()
    if as_json:
        out = result.to_dict()
        out.update(suite=suite, split=split or s.default_split, task_id=task_id)
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{suite} task {task_id} · model {result.model} · controller {result.controller}")
    for rec in result.steps:
        mark = "" if not rec.feedback.startswith("Cannot") else "  (rejected)"
        d = rec.decision
        click.echo(f"  {rec.index + 1:>2}. [k={d.k} depth={d.depth}] {rec.action}{mark}")
    c = result.cost
    opt = f", optimal {result.optimal_steps}" if result.optimal_steps is not None else ""
    click.echo(
        f"{'success' if result.success else 'failure'} ({result.stop_reason}) in "
        f"{len(result.steps)} steps{opt}; quality {result.quality:.2f}"
    )
    click.echo(
        f"cost: {c.llm_calls} LM calls, {c.prompt_tokens} prompt tokens evaluated "
        f"({c.reused_prompt_tokens} reused), {c.generated_tokens} generated, {c.seconds:.2f} s"
    )


@main.command()
@_fail_cleanly
def models() -> None:
    """List the default model and the installed backends."""
    from aip_sdk.models import default_model_path
    from aip_sdk.registry import available_backends

    try:
        path = str(default_model_path())
    except AipError as exc:
        path = f"not installed ({exc})"
    click.echo(f"default model: {path}")
    click.echo("backends:")
    for name, target in available_backends().items():
        click.echo(f"  {name:<10} {target}")


@main.command()
@click.option("--suite", default="blocksworld", show_default=True)
@click.option("--data", type=click.Path(file_okay=False), default=None)
@click.option("--split", default=None)
@_fail_cleanly
def tasks(suite: str, data: str | None, split: str | None) -> None:
    """List a suite's tasks with their difficulty labels."""
    from aip_sdk.envs.suite import load_suite

    for t in load_suite(suite, data).tasks(split):
        click.echo(f"{t.task_id}\t{t.split}\t{t.difficulty}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
