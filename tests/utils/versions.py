"""A learned model version written as `moderato learn` writes one, without training: the shipped heads with every
toxicity logit moved, so its answers visibly differ from the shipped model's."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import torch

from service.model.checkpoint import load_model
from service.model.versions import save_heads, write_report
from tests.conftest import SHIPPED_MODEL


def write_version(root: Path, version_id: str, *, tenant: str, status: str, shift: float) -> str:
    """Writes ``root/version_id`` for ``tenant`` with its gate ``status``; returns its model version."""
    net, config = load_model(SHIPPED_MODEL)
    with torch.no_grad():
        net.toxicity_head[-1].bias.add_(shift)
    folder = root / version_id
    version = f"{config.version}+{version_id}"
    save_heads(
        {"toxicity_head": net.toxicity_head, "span_head": net.span_head},
        replace(config, version=version, heads_of=config.version),
        folder,
    )
    shutil.copy(SHIPPED_MODEL / "calibration.json", folder / "calibration.json")  # as learn refits one
    candidate = 0.68 if status == "passed" else 0.6
    site = {"served_auc": 0.62, "candidate_auc": candidate, "difference": round(candidate - 0.62, 2)}
    write_report(
        folder,
        {
            "tenant": tenant,
            "version": version,
            "status": status,
            "reasons": ["site AUC 0.62 -> 0.68" if status == "passed" else "site AUC gain inside the noise"],
            "created_at": "2026-12-03T12:00:00+00:00",
            "labels": {"trained_on": {"labels": 1000}},
            "gate": {
                "site": site,
                "standard": {"toxicity_auc_mean": {"served": 0.88, "candidate": 0.879, "change": -0.001}},
            },
        },
    )
    return version
