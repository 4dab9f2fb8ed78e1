"""Model versions learned from a site's own labels (``moderato learn``), kept on disk with their reports.

A version is a folder under the versions root, named by the version's id (``<tenant>-<UTC time>``):

- ``config.json``: the shipped model's config with its own ``version`` and ``heads_of`` (the shipped model whose
  encoder and stance it runs on, unchanged);
- ``heads.safetensors``: its toxicity and span heads, the only weights it changes;
- ``calibration.json``: the score map refitted for it;
- ``report.json``: what the learn job measured and the gate's verdict (``status``: passed or rejected).

Only the heads differ, so serving a version costs its heads' memory (under a megabyte), and one encoder pass serves
every version a batch's comments are answered by. The base model's folder is never written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from service.model.checkpoint import CONFIG_FILE, CheckpointError, ModelConfig, read_config
from service.model.network import SiteResidual, site_residual, span_head, toxicity_head

HEADS_FILE = "heads.safetensors"
REPORT_FILE = "report.json"
HEAD_MODULES = ("toxicity_head", "span_head")
VERSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def version_folder(root: Path, version_id: str) -> Path:
    """The folder of one version; refuses a name that could leave the root."""
    if not VERSION_ID.match(version_id):
        raise ValueError(f"invalid model version id {version_id!r}")
    return root / version_id


def save_heads(heads: dict[str, torch.nn.Module], config: ModelConfig, folder: Path) -> None:
    """Write a version's heads (HEAD_MODULES by name) and config (``heads_of`` names the model it runs on)."""
    if not config.heads_of:
        raise ValueError("a learned version names the shipped model it runs on (heads_of)")
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        f"{module}.{name}": tensor.detach().float().contiguous()
        for module in HEAD_MODULES
        for name, tensor in heads[module].state_dict().items()
    }
    save_file(state, str(folder / HEADS_FILE), metadata={"version": config.version, "heads_of": config.heads_of})
    (folder / CONFIG_FILE).write_text(config.to_json())


def load_heads(folder: Path, base: ModelConfig, hidden: int) -> tuple[ModelConfig, dict[str, torch.nn.Module]]:
    """A version's config and its heads, built like ``base``'s and loaded; refuses a version learned on another
    model (its heads would read an encoder they were not fitted to)."""
    config = read_config(folder)
    if config.heads_of != base.version:
        raise CheckpointError(f"{folder} was learned on {config.heads_of or 'nothing'}; this model is {base.version}")
    try:
        state = load_file(str(folder / HEADS_FILE))
    except FileNotFoundError as exc:
        raise CheckpointError(f"no {HEADS_FILE} in {folder}") from exc
    toxicity: torch.nn.Module = toxicity_head(hidden)
    if config.toxicity_residual:
        toxicity = SiteResidual(toxicity, site_residual(hidden, config.toxicity_residual))
    heads: dict[str, torch.nn.Module] = {"toxicity_head": toxicity, "span_head": span_head(hidden)}
    for name, module in heads.items():
        prefix = name + "."
        module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        module.eval()
    return config, heads


def write_report(folder: Path, report: dict[str, Any]) -> None:
    tmp = folder / (REPORT_FILE + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(folder / REPORT_FILE)


def read_report(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / REPORT_FILE).read_text()))
    except FileNotFoundError:
        return {}


def list_versions(root: Path, tenant: str | None = None) -> list[dict[str, Any]]:
    """Every version with a report (a job still running has none yet), newest first; one tenant's when given."""
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        report = read_report(folder) if VERSION_ID.match(folder.name) else {}
        if report and (tenant is None or report.get("tenant") == tenant):
            out.append({"id": folder.name, **report})
    return sorted(out, key=lambda r: str(r.get("created_at", "")), reverse=True)
