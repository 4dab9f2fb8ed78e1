"""Model throughput on this CPU: Moderato's model against a randomly initialised bert-base-uncased (Detoxify's
size), side by side in one run, on the same ~60-token comments in batches of 32.

Rows are measured round-robin (one repetition of each in turn) so machine noise hits all of them alike; the table
shows medians. The "streams" row runs one batch per model stream at once, as the service does (its ms/batch is
the wall time divided by the streams). Usage: python bench/model.py [--reps 15] [--batch 32] [--tokens 60]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.config import DEFAULT_MODEL_DIR, Settings  # noqa: E402
from service.model.checkpoint import load_tokenizer  # noqa: E402
from service.model.predict import Predictor  # noqa: E402
from service.system import cpu_has_bf16  # noqa: E402

MODEL = DEFAULT_MODEL_DIR
STANCE_MODEL = MODEL.parent / "moderato-v6-stance"
SENTENCES = [
    "The council should have published the budget before the vote, not after it.",
    "I have lived here for thirty years and the library has always been the heart of this town.",
    "Honestly this is the worst decision they have made since the parking fiasco.",
    "Does anyone know whether the branch libraries will keep their weekend hours?",
    "Good reporting, but the article leaves out what the two dissenting members said.",
    "People who complain about taxes never show up to the public meetings anyway.",
]


def comments(tokenizer: object, n: int, tokens: int) -> list[str]:
    """n distinct comments of about ``tokens`` tokens each."""
    out = []
    for i in range(n):
        words: list[str] = [f"({i})"]  # every comment distinct: predict() scores identical texts once
        j = i
        while len(tokenizer(" ".join(words))["input_ids"]) < tokens:  # type: ignore[operator]
            words += SENTENCES[j % len(SENTENCES)].split()
            j += 1
        text = " ".join(words)
        while len(tokenizer(text)["input_ids"]) > tokens:  # type: ignore[operator]
            text = text.rsplit(" ", 1)[0]
        out.append(text)
    return out


def bert_base(bf16: bool) -> Callable[[torch.Tensor, torch.Tensor], object]:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig()).eval()  # bert-base-uncased shape: 12 layers, 768 wide, 110M parameters

    def run(ids: torch.Tensor, mask: torch.Tensor) -> object:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(input_ids=ids, attention_mask=mask)

    return run


def encoder_flops_per_comment(config: Any, tokens: int) -> float:
    """Multiply-adds of one encoder pass per comment, x2: the dense projections and the attention products."""
    hidden, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token_layer = 4 * hidden * hidden + 2 * hidden * ffn + 2 * tokens * hidden
    return float(2 * per_token_layer * layers * tokens)


def matmul_flops_per_s(batch: int, tokens: int, hidden: int, ffn: int, bf16: bool, reps: int) -> float:
    """What this CPU sustains on the encoder's own matrix shapes (the FFN's two products, the biggest), in the
    precision the model runs in: the ceiling any encoder of this size can approach here."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    x = torch.randn(batch * tokens, hidden, dtype=dtype)
    up, down = torch.randn(hidden, ffn, dtype=dtype), torch.randn(ffn, hidden, dtype=dtype)
    with torch.inference_mode():
        for _ in range(3):
            x @ up @ down
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            x @ up @ down
            times.append(time.perf_counter() - start)
    return 2 * 2 * batch * tokens * hidden * ffn / statistics.median(times)


def print_stance_costs(rows: list[dict[str, Any]], precision: str, batch: int) -> None:
    """What stance adds to a comment's cost, from the rows of this run (the issue's target: at most 2.5x)."""
    rate = {r["case"]: r["comments_per_s"] for r in rows}
    alone, one = f"moderato predict ({precision}), scores+spans", "one comment, 1 thread"
    for case in (
        f"{alone.replace(', scores+spans', ', +stance')}",
        f"moderato predict ({precision}), +stance, cross-encoded",
    ):
        if case in rate:
            print(f"with stance / without, batch {batch}: {case}: {rate[alone] / rate[case]:.2f}x")
    for case in (f"{one}, +stance (late interaction)", f"{one}, +stance, cross-encoded"):
        if case in rate:
            print(f"with stance / without, one comment: {case}: {rate[one] / rate[case]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument(
        "--stance-model", type=Path, default=STANCE_MODEL, help="cross-encoded stance model to time (if present)"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    tokenizer = load_tokenizer()
    texts = comments(tokenizer, args.batch, args.tokens)
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    bf16 = cpu_has_bf16()
    ours = Predictor(MODEL, batch_size=args.batch, bf16=bf16)
    ours_fp32 = Predictor(MODEL, batch_size=args.batch, bf16=False)
    article = ours.encode_article("City council votes to close the central library", SENTENCES[0])
    streams, per_stream = Settings().stream_layout()
    streamed = Predictor(MODEL, batch_size=args.batch, bf16=bf16, threads=per_stream)
    pool = ThreadPoolExecutor(max_workers=streams)

    # The encoder runs as a frozen TorchScript graph; these run the eager transformers module (before that change),
    # side by side, at batch 32 and for lone comments, which is where the service spends its time when not saturated.
    eager = Predictor(MODEL, batch_size=args.batch, bf16=bf16, traced=False)
    streamed_eager = Predictor(MODEL, batch_size=args.batch, bf16=bf16, threads=per_stream, traced=False)
    one_thread = Predictor(MODEL, batch_size=args.batch, bf16=bf16, threads=1)
    one_thread_eager = Predictor(MODEL, batch_size=args.batch, bf16=bf16, threads=1, traced=False)
    singles = itertools.cycle(texts)
    one_thread_article = one_thread.encode_article("City council votes to close the central library", SENTENCES[0])

    def in_streams(predictor: Predictor, batch: int) -> Callable[[], None]:
        """One batch per stream at once, as the service runs them (model_streams x torch_threads)."""
        return lambda: list(pool.map(lambda _: predictor.predict(texts[:batch]), range(streams)))

    precision = "bf16" if bf16 else "fp32"
    streams_case = f"moderato predict ({precision}), scores+spans, {streams} streams x {per_stream} thread(s)"
    # name -> (one timed call, comments per call, batches per call)
    cases: dict[str, tuple[Callable[[], object], int, int]] = {
        streams_case: (in_streams(streamed, args.batch), args.batch * streams, streams),
        streams_case + ", eager encoder (before)": (
            in_streams(streamed_eager, args.batch),
            args.batch * streams,
            streams,
        ),
        f"one comment per stream, {streams} streams x {per_stream} thread(s)": (
            in_streams(streamed, 1),
            streams,
            streams,
        ),
        f"one comment per stream, {streams} streams, eager encoder (before)": (
            in_streams(streamed_eager, 1),
            streams,
            streams,
        ),
        f"moderato predict ({precision}), scores+spans": (lambda: ours.predict(texts), args.batch, 1),
        f"moderato predict ({precision}), +stance": (lambda: ours.predict(texts, article), args.batch, 1),
        "moderato predict (fp32), scores+spans": (lambda: ours_fp32.predict(texts), args.batch, 1),
    }
    cases["one comment, 1 thread"] = (lambda: one_thread.predict([next(singles)]), 1, 1)
    cases["one comment, 1 thread, +stance (late interaction)"] = (
        lambda: one_thread.predict([next(singles)], one_thread_article),
        1,
        1,
    )
    if args.stance_model.exists():
        # The cross-encoded stance pass: claim and comment read together by the adapted encoder, beside the
        # comment-alone pass that gives toxicity and spans.
        crossed = Predictor(
            MODEL, batch_size=args.batch, bf16=bf16, stance_folder=args.stance_model, cross_article_stance=True
        )
        crossed_one = Predictor(
            MODEL,
            batch_size=args.batch,
            bf16=bf16,
            threads=1,
            stance_folder=args.stance_model,
            cross_article_stance=True,
        )
        crossed_article = crossed.encode_article("City council votes to close the central library", SENTENCES[0])
        cases[f"moderato predict ({precision}), +stance, cross-encoded"] = (
            lambda: crossed.predict(texts, crossed_article),
            args.batch,
            1,
        )
        cases["one comment, 1 thread, +stance, cross-encoded"] = (
            lambda: crossed_one.predict([next(singles)], crossed_article),
            1,
            1,
        )
    if bf16:
        cases["moderato predict, eager encoder (before)"] = (lambda: eager.predict(texts), args.batch, 1)
        cases["one comment, 1 thread, eager encoder (before)"] = (
            lambda: one_thread_eager.predict([next(singles)]),
            1,
            1,
        )
    # A comment's cost by batch size on one thread: what coalescing comments buys on this CPU (the batcher's wait).
    for size in (2, 4, 8, args.batch):
        cases[f"batch of {size}, 1 thread"] = (lambda size=size: one_thread.predict(texts[:size]), size, 1)
    bert_fp32, bert_bf16 = bert_base(False), bert_base(True)
    bert_case = "bert-base random init, encoder only (fp32, as Detoxify runs)"
    cases[bert_case] = (lambda: bert_fp32(enc["input_ids"], enc["attention_mask"]), args.batch, 1)
    if bf16:
        cases["bert-base random init, encoder only (bf16)"] = (
            lambda: bert_bf16(enc["input_ids"], enc["attention_mask"]),
            args.batch,
            1,
        )
    for run, _, _ in cases.values():  # warm-up: first calls pay for allocation and kernel selection
        torch.set_num_threads(threads)
        run()
        run()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.reps):
        for name, (run, _, _) in cases.items():
            torch.set_num_threads(threads)  # a one-thread Predictor leaves this thread at one; bert-base uses all
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    bert_rate = args.batch / statistics.median(times[bert_case])
    rows = []
    for name, t in times.items():
        _, n, batches = cases[name]
        rate = n / statistics.median(t)
        rows.append(
            {
                "case": name,
                "batch": n // batches,
                # wall time of one call: the streams rows run their batches side by side within it
                "median_ms_per_call": round(statistics.median(t) * 1000, 1),
                "comments_per_s": round(rate, 1),
                "x_bert_base_fp32": round(rate / bert_rate, 2),
            }
        )
    torch.set_num_threads(threads)
    tokens = int(enc["input_ids"].shape[1])
    config = ours.net.encoder.config
    flops = encoder_flops_per_comment(config, tokens)
    peak = matmul_flops_per_s(args.batch, tokens, config.hidden_size, config.intermediate_size, bf16, args.reps)
    ceiling = {
        "encoder_gflop_per_comment": round(flops / 1e9, 3),
        "matmul_gflop_per_s": round(peak / 1e9, 1),
        "comments_per_s_if_all_flops_ran_at_matmul_speed": round(peak / flops, 1),
    }
    print(f"batch {args.batch}, ~{tokens} tokens (padded), {args.reps} reps, {threads} threads")
    print_table(rows)
    print_stance_costs(rows, precision, args.batch)
    print(ceiling)
    path = write_result(
        "model",
        rows,
        {
            "batch": args.batch,
            "tokens": int(enc["input_ids"].shape[1]),
            "reps": args.reps,
            "threads": threads,
            "bf16": bf16,
            "ceiling": ceiling,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
