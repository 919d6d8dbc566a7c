"""Backend benchmark: sampling with and without prefix reuse, batched scoring, SDK overhead.

Run: python benchmarks/backend.py [--repeats 7] [--model PATH]
Prints a Markdown table (medians over the repeats, in one run) for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import llama_cpp

from aip_sdk.models import resolve_model_path
from aip_sdk.util import unwind_on_sigterm
from aip_sdk_llamacpp import LlamaCppBackend

TOPIC = (
    "The following is a description of a block-stacking puzzle. There are several blocks on a "
    "table; each block can be on the table or on another block, and the hand can hold one block. "
)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", default=None)
    ap.add_argument("--gen", type=int, default=32, help="tokens generated per sample")
    args = ap.parse_args()
    path = resolve_model_path(args.model)
    threads = os.cpu_count() or 1
    b = LlamaCppBackend(path, n_ctx=4096, n_threads=threads)
    body = TOPIC * 12
    prompt = b.render_chat([{"role": "user", "content": body + "\nDescribe the puzzle."}])
    n_prompt = len(b._prompt_tokens(prompt))
    gen = args.gen
    rows: list[tuple[str, float, str]] = []

    generated: dict[str, int] = {}

    def sample(n: int, *, cold: bool) -> None:
        if cold:
            b.reset_cache()
        res = b.sample(prompt, n=n, max_tokens=gen, temperature=0.8, seed=1)
        generated[f"{n}-{cold}"] = res.cost.generated_tokens

    def eight_separate_calls() -> None:
        for _ in range(8):
            b.reset_cache()
            res = b.sample(prompt, n=1, max_tokens=gen, temperature=0.8, seed=1)
            generated["sep"] = generated.get("sep", 0) + res.cost.generated_tokens

    one = median_time(lambda: sample(1, cold=True), args.repeats)
    eight = median_time(lambda: sample(8, cold=True), args.repeats)
    eight_warm = median_time(lambda: sample(8, cold=False), args.repeats)
    eight_sep = median_time(eight_separate_calls, max(3, args.repeats // 2))
    n_sep = generated["sep"] // max(3, args.repeats // 2)
    rows += [
        (
            f"1 sample, {n_prompt}-token prompt ({generated['1-True']} tokens generated)",
            one,
            "1.00x",
        ),
        (
            f"8 samples, one call: prompt once, decoded together ({generated['8-True']} tokens)",
            eight,
            f"{eight / one:.2f}x",
        ),
        (
            f"8 samples, one call, prompt already cached ({generated['8-False']} tokens)",
            eight_warm,
            f"{eight_warm / one:.2f}x",
        ),
        (
            f"8 samples, 8 calls without prefix reuse ({n_sep} tokens)",
            eight_sep,
            f"{eight_sep / one:.2f}x",
        ),
    ]

    conts = [f"The puzzle has {i} blocks and the hand is empty." for i in range(10)]

    def score_batched() -> None:
        b.reset_cache()
        b.score(prompt, conts)

    def one_eval() -> None:
        b.reset_cache()
        b.score(prompt, conts[:1])

    def score_separately() -> None:
        for c in conts:
            b.reset_cache()
            b.score(prompt, [c])

    ev = median_time(one_eval, args.repeats)
    sc = median_time(score_batched, args.repeats)
    sep = median_time(score_separately, max(3, args.repeats // 2))
    rows += [
        ("score 1 continuation (one evaluation)", ev, "1.00x"),
        ("score 10 continuations, one call", sc, f"{sc / ev:.2f}x"),
        ("score 10 continuations, 10 separate evaluations", sep, f"{sep / ev:.2f}x"),
    ]

    # SDK overhead: the same greedy tokens through the SDK and through llama-cpp-python directly.
    b.reset_cache()
    ours = b.sample(prompt, n=1, max_tokens=64, temperature=0.0).completions[0]
    n_gen = len(ours.token_ids)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=threads, verbose=False)
    toks = llm.tokenize(prompt.encode(), add_bos=True, special=True)

    def direct() -> None:
        llm.reset()
        llm.eval(toks)
        for _ in range(n_gen):
            tok = llm.sample(temp=0.0)
            llm.eval([tok])

    def sdk() -> None:
        b.reset_cache()
        b.sample(prompt, n=1, max_tokens=n_gen, temperature=0.0)

    d = median_time(direct, args.repeats)
    s = median_time(sdk, args.repeats)
    rows += [
        (f"llama-cpp-python directly: prompt + {n_gen} greedy tokens", d, ""),
        (
            f"aip-sdk: the same prompt + {n_gen} greedy tokens",
            s,
            f"overhead {100 * (s - d) / s:+.1f}%",
        ),
    ]
    llm.close()
    b.close()
    print(
        f"Model {path.name}, {threads} threads, {platform.processor() or platform.machine()}, "
        f"median of {args.repeats} runs\n"
    )
    print("| measurement | median seconds | ratio |")
    print("| --- | ---: | --- |")
    for name, secs, ratio in rows:
        print(f"| {name} | {secs:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
