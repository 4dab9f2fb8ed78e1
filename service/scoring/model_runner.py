"""The model behind the scorer's seam: runs a batch of comment and article jobs on the Predictor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from service.config import Settings
from service.scoring.scorer import ArticleJob, CommentJob
from service.system import release_freed_heap


class PredictorRunner:
    """Loads the shipped model once; ``run`` is called from the batcher's single model thread."""

    def __init__(self, settings: Settings) -> None:
        from service.model.predict import Predictor

        self.predictor = Predictor(
            settings.model_dir,
            bf16=settings.bf16,
            batch_size=settings.batch_max_items,
            stance_prior=settings.served_stance_prior(),
            threads=settings.stream_layout()[1],
            stance_folder=settings.stance_model_dir,
            cross_article_stance=settings.cross_article_stance,
        )
        self.version = self.predictor.version
        self.cache_version = _cache_version(self.predictor)
        self.variants: dict[str, Any] = {}  # a learned version's id -> the predictor with its heads

    def load_version(self, version_id: str, folder: Path) -> tuple[str, str]:
        """Make a learned version servable (``CommentJob.model``); returns its version and cache version. Called off
        the event loop: reading the heads takes milliseconds, and nothing in flight sees a half-made variant."""
        variant = self.predictor.with_heads(folder)
        self.variants = {**self.variants, version_id: variant}  # one assignment: the model threads read it
        return variant.version, _cache_version(variant)

    def unload_versions(self, keep: set[str]) -> None:
        self.variants = {k: v for k, v in self.variants.items() if k in keep}

    def run(self, jobs: list[CommentJob | ArticleJob]) -> Sequence[Any]:
        out: list[Any] = [None] * len(jobs)
        by_model: dict[str | None, list[int]] = {}
        for i, job in enumerate(jobs):
            if isinstance(job, CommentJob):
                by_model.setdefault(job.model, []).append(i)
        for model, rows in by_model.items():  # each comment still has one encoder pass, under its own heads
            predictor = self.predictor if model is None else self.variants[model]
            batch = [cast(CommentJob, jobs[i]) for i in rows]
            predictions = predictor.predict(
                [j.text for j in batch], [j.article for j in batch], [j.parent for j in batch]
            )
            for i, prediction in zip(rows, predictions, strict=True):
                out[i] = prediction
        for i, job in enumerate(jobs):
            if isinstance(job, ArticleJob):
                if job.parent:
                    out[i] = self.predictor.encode_parent(job.title)
                else:
                    out[i] = self.predictor.encode_article(job.title, job.body)
        return out

    def release_memory(self) -> None:
        """Give the heap a burst of long comments grew back to the system (glibc keeps freed pages otherwise: RSS
        stayed ~400 MiB up after one). Runs when the batcher goes idle; a no-op where there is no glibc."""
        release_freed_heap()

    def state_to_bytes(self, state: Any) -> bytes:
        return state.to_bytes()  # type: ignore[no-any-return]

    def state_from_bytes(self, raw: bytes) -> Any:
        from service.model.predict import ArticleState

        return ArticleState.from_bytes(raw, self.predictor.hidden)


def _cache_version(predictor: Any) -> str:
    """The version and what changes answers without changing it: the stance confidence maps, the article prior
    (MODERATO_STANCE_PRIOR), so an answer cached under another prior is not served as this one's, and the readings
    a text is scored by."""
    from service.model.predict import READINGS

    prior = ",".join(f"{shift:.4f}" for shift in predictor.stance_shift.tolist())
    return f"{predictor.version}+stance-confidence:{predictor.confidence_fit}+prior:{prior}+readings:{READINGS}"
