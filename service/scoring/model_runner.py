"""The model behind the scorer's seam: runs a batch of comment and article jobs on the Predictor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
            stance_prior=settings.stance_prior,
            threads=settings.stream_layout()[1],
            stance_folder=settings.stance_model_dir,
            cross_article_stance=settings.cross_article_stance,
        )
        self.version = self.predictor.version
        self.cache_version = f"{self.version}+stance-confidence:{self.predictor.confidence_fit}"

    def run(self, jobs: list[CommentJob | ArticleJob]) -> Sequence[Any]:
        out: list[Any] = [None] * len(jobs)
        comments = [(i, j) for i, j in enumerate(jobs) if isinstance(j, CommentJob)]
        if comments:
            predictions = self.predictor.predict(
                [j.text for _, j in comments], [j.article for _, j in comments], [j.parent for _, j in comments]
            )
            for (i, _), prediction in zip(comments, predictions, strict=True):
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
