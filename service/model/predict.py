"""Inference: comments in, attribute scores, toxic spans and stance out.

Comments are sorted by length and padded per batch. A comment longer than ``max_tokens`` is read in overlapping
windows that ride in the same batches (its scores are the maximum over windows, its spans the union), so nothing
past the first few hundred words goes unread. Articles are encoded once into token states that the caller may
cache; a comment's stance reads them, its toxicity never does.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.jit._trace import TracerWarning

from service.model.checkpoint import CheckpointError, load_model, load_tokenizer
from service.model.claim import article_claim
from service.model.cross_stance import CrossStance
from service.model.cross_stance import read_config as read_cross_config
from service.model.labels import ATTRIBUTES, SPAN_ATTRIBUTES, SPAN_INDEX, STANCES, parent_scores
from service.model.network import Encoded, ModeratoNet
from service.model.obfuscation import load_word_lists, plain_reading
from service.model.stance_confidence import ConfidenceMap, load_maps, stance_confidence
from service.model.versions import load_heads
from service.system import bf16_by_default

WINDOW_STRIDE = 32  # tokens shared by consecutive windows of a long comment
# 24 windows of 256 tokens (224 new tokens each) cover ~23,000 characters of English: every comment up to the
# service's documented maximum (20,000 characters) is read whole. Text that needs more windows (dense scripts,
# symbol runs) is read up to here and marked incomplete, and the policy holds it for review.
MAX_WINDOWS = 24
# A comment's most toxic sentence by the token head is also scored alone when the token head gives it at least this
# (Predictor._look_again). Chosen on dev (moderato-v8's card): at 0.5 the second look cost 0.006 toxicity AUC on
# UCC and 0.014 on Toxic Spans (blunt civil sentences read alone score higher); at 0.8, 0.002 and 0.005, and a threat
# or an insult padded with civil sentences (their words read 0.86-0.88) is still read; at 0.9 it is not.
SECOND_LOOK_GATE = 0.8
# Below that gate, from IDENTITY_LOOK_GATE up, the sentence is also read alone but lifts identity attack only: an
# attack on a group padded with civil sentences ("I agree with most of this article... Jews are vermin. The map was
# helpful too, thanks.") read toxicity 0.02 and was allowed, its sentence reading 0.46 on the token head. Lifting
# every attribute there cost toxicity AUC (blunt civil sentences read alone), and the threat output read short civil
# sentences alone as threats ("good luck in building your career" 0.64); identity attack alone held padded identity
# attacks 40 % -> 80 % for 3 more of 3,000 real comments held and dev identity-attack AUC 0.739 -> 0.741
# (bench/identity_look.py, bench/RESULTS.md).
IDENTITY_LOOK_GATE = 0.5
_IDENTITY_ATTACK = ATTRIBUTES.index("identity_attack")
# Names the readings a text is scored by (its windows, the second looks, the plain reading of obfuscated text): part
# of the cache key (service/scoring/model_runner.py), so an answer cached before a reading was added is not served.
# plain-2: fancy text, overrides, upside down, references, capital I; plain-3: words joined by symbols, an emoji for a
# noun; plain-4: spelled-out words cut apart; plain-5: the antisemitic echo, a word cut by one separator; plain-6: a
# word cut into two words, the middle finger; plain-7: drawn-out letters; plain-8: vowels dropped, stand-ins, abuse
# borrowed from another language (service/model/loanwords.py), a capital I opening a word in mid-sentence ("you
# Ioser"), "faux Cyrillic"; plain-9: Markdown emphasis, letters drawn in ASCII strokes, words run together; plain-10:
# a listed word with two inner letters swapped; plain-11: whole comments written without vowels, with letters
# swapped or backwards (service/model/scrambled.py); plain-12: HTML markup as a page shows it; symbols: each symbol a
# token of its own (service/model/checkpoint.py).
READINGS = "windows+second-look+identity-look+plain-12+symbols"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    attribute: str


@dataclass(frozen=True)
class Stance:
    label: str
    scores: dict[str, float]
    # P(label right) from the pass's confidence map (service/model/stance_confidence.py), and whether that is above
    # the point where the label is presented as confident
    confidence: float = 0.0
    confident: bool = False


@dataclass(frozen=True)
class Prediction:
    scores: dict[str, float]
    spans: list[Span]
    stance: Stance | None
    stance_to_parent: Stance | None = None  # agree / disagree / neutral toward the comment it replies to
    # (start, end, {span attribute: score}) per sentence, from the token head (Perspective's span scores)
    sentences: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    complete: bool = True  # False: the text needed more than MAX_WINDOWS windows and its end was not read


@dataclass(frozen=True)
class ArticleState:
    """An article's encoded claim (title + lead): token states ready for the stance head."""

    states: torch.Tensor  # (tokens, hidden), float32; no tokens when stance is cross-encoded (it reads the claim)
    claim: str

    def to_bytes(self) -> bytes:
        """The claim's length (4 bytes), the claim (UTF-8), then the states (fp16)."""
        claim = self.claim.encode()
        return len(claim).to_bytes(4, "big") + claim + self.states.to(torch.float16).numpy().tobytes()

    @classmethod
    def from_bytes(cls, raw: bytes, hidden: int) -> ArticleState:
        size = int.from_bytes(raw[:4], "big")
        claim = raw[4 : 4 + size].decode()
        array = np.frombuffer(raw[4 + size :], dtype=np.float16).reshape(-1, hidden)
        return cls(torch.from_numpy(array.astype(np.float32)), claim)


class Predictor:
    """The shipped model, loaded once, in eval mode.

    :param folder: model folder (config.json + weights.safetensors).
    :param bf16: run under bf16 autocast; default: ``MODERATO_BF16`` if set, else when the CPU computes bf16 natively.
    :param batch_size: sequences per forward pass.
    :param stance_prior: expected stance label frequencies where the model runs (comments under their own article
        are rarely unrelated); the logits are shifted from the training prior to this one. None: no shift.
    :param traced: run the encoder as a frozen TorchScript graph (same outputs, less Python); False: eager.
    :param stance_folder: a cross-encoded stance model (service/model/cross_stance.py); its pass reads target and
        comment together, on the encoder its adapters were trained on (this model's, or an earlier model's kept
        beside the stance folder, see ``_stance_base_encoder``). It gives the stance toward a parent comment, and
        toward the article too when ``cross_article_stance``; otherwise the late-interaction head reads the article
        (the model card says why). None: the late-interaction head for both.
    """

    def __init__(
        self,
        folder: Path,
        *,
        bf16: bool | None = None,
        batch_size: int = 32,
        stance_prior: list[float] | None = None,
        threads: int | None = None,
        traced: bool = True,
        stance_folder: Path | None = None,
        cross_article_stance: bool = False,
    ) -> None:
        self.threads = threads or torch.get_num_threads()
        load_word_lists()
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer's truncation state is not safe to share
        self.net: ModeratoNet
        self.net, self.config = load_model(folder)
        self.tokenizer: Any = load_tokenizer()
        self.bf16 = bf16_by_default() if bf16 is None else bf16
        self.cross = (
            None
            if stance_folder is None
            else CrossStance(
                stance_folder, self._stance_base_encoder(stance_folder), self.tokenizer, bf16=self.bf16, traced=traced
            )
        )
        self.cross_article_stance = self.cross is not None and cross_article_stance
        # the heads a batch is scored with: the shipped ones, or a site's own (``with_heads``) on this same encoder
        self.toxicity_head: torch.nn.Module = self.net.toxicity_head
        self.span_head: torch.nn.Module = self.net.span_head
        self._encoder = self._prepared(self.net.encoder, traced)
        self._stance_encoder = None if self.cross is None else self._prepared(self.cross.encoder, traced)
        self.batch_size = batch_size
        self.hidden = self.net.encoder.config.hidden_size
        article_reader = self.cross.config.train_prior if self.cross and self.cross_article_stance else None
        self.stance_shift = _prior_shift(article_reader or self.config.stance_train_prior, stance_prior)
        # each pass's confidence map lives with the weights that pass runs on
        head_maps = load_maps(folder)
        cross_maps = {} if stance_folder is None else load_maps(stance_folder)
        self.confidence_maps = {
            "article": (cross_maps if self.cross_article_stance else head_maps).get("article"),
            "parent": (cross_maps if self.cross is not None else head_maps).get("parent"),
        }

    def with_heads(self, folder: Path) -> Predictor:
        """This predictor with a learned version's toxicity and span heads (service/model/versions.py): the same
        encoder, stance and tokenizer objects, so serving a site's own version costs its heads' memory only."""
        config, heads = load_heads(folder, self.config, self.hidden)
        variant = copy.copy(self)
        variant.config = config
        variant.toxicity_head, variant.span_head = heads["toxicity_head"], heads["span_head"]
        return variant

    def _stance_base_encoder(self, stance_folder: Path) -> torch.nn.Module:
        """The encoder the stance adapters were trained on. The stance pass runs its own merged copy either way, so
        when the comment pass has been retrained since (a new toxicity model), the stance pass keeps the earlier
        model's encoder, read from its folder beside the stance folder, and stays exactly as it was measured."""
        wanted = read_cross_config(stance_folder).encoder_version
        if wanted == self.config.version:
            return self.net.encoder
        folder = stance_folder.parent / wanted
        try:
            net, config = load_model(folder)
        except (CheckpointError, FileNotFoundError) as exc:
            raise CheckpointError(f"{stance_folder} adapts {wanted}'s encoder, and {folder} cannot be loaded") from exc
        if config.version != wanted:
            raise CheckpointError(f"{stance_folder} adapts {wanted}'s encoder; {folder} holds {config.version}")
        return net.encoder

    def _prepared(self, encoder: torch.nn.Module, traced: bool) -> Any:
        if self.bf16:
            _store_linear_weights_in_bf16(encoder)
        return _traced_encoder(encoder, self.bf16) if traced else _LastHiddenState(encoder)

    @property
    def confidence_fit(self) -> str:
        """The confidence maps in use (they change answers without changing the weights)."""
        return ",".join(m.fit if m else "none" for m in self.confidence_maps.values())

    @property
    def version(self) -> str:
        """The comment pass's model, and the stance model when it is a separate one (both change results)."""
        return self.config.version if self.cross is None else f"{self.config.version}+{self.cross.config.version}"

    def _autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def _use_threads(self) -> None:
        """Torch's intra-op thread count belongs to the calling thread (OpenMP): set it in whichever thread runs."""
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        return Encoded(self._encoder(input_ids, attention_mask), attention_mask)

    def encode_parent(self, text: str) -> ArticleState:
        """A parent comment as a stance target: its text for the cross-encoded pass, else encoded like a claim."""
        if self.cross is not None:
            return ArticleState(torch.zeros((0, self.hidden)), article_claim(text))
        return self.encode_article(text)

    def encode_article(self, title: str, body: str = "") -> ArticleState:
        claim = article_claim(title, body)
        if self.cross_article_stance:  # the stance pass reads the claim's text with each comment
            return ArticleState(torch.zeros((0, self.hidden)), claim)
        with self._tokenizer_lock:
            enc = self.tokenizer([claim], truncation=True, max_length=self.config.article_tokens, return_tensors="pt")
        self._use_threads()
        with torch.inference_mode(), self._autocast():
            encoded = self._encode(enc["input_ids"], enc["attention_mask"])
        return ArticleState(encoded.states[0].float(), claim)

    def predict(
        self,
        texts: list[str],
        article: ArticleState | list[ArticleState | None] | None = None,
        parents: list[ArticleState | None] | None = None,
    ) -> list[Prediction]:
        """Score comments; ``article`` is one article for all, or one (or None) per comment; ``parents`` is the
        encoded text of the comment each one replies to (``encode_article(parent_text)``), or None.

        Identical texts in one call are encoded once; each (comment, article) pair still gets its own stance.
        """
        articles = article if isinstance(article, list) else [article] * len(texts)
        parents = parents or [None] * len(texts)
        if len(articles) != len(texts) or len(parents) != len(texts):
            raise ValueError("one article (or None) and one parent (or None) per comment")
        unique = list(dict.fromkeys(texts))
        readings = self._merge(unique, self._read(unique))
        by_text = {text: reading for text, reading in zip(unique, readings, strict=True)}
        stances = self._stance_pass(texts, by_text, articles, self.stance_shift, self.cross_article_stance)
        # toward a parent: no article prior (replies take sides far more often than comments under an article)
        to_parents = self._stance_pass(texts, by_text, parents, torch.zeros(len(STANCES)), self.cross is not None)
        return [
            Prediction(
                by_text[t].scores,
                by_text[t].spans,
                _with_confidence(stance, self.confidence_maps["article"]),
                _with_confidence(_toward_parent(to_parent), self.confidence_maps["parent"]),
                by_text[t].sentences,
                by_text[t].complete,
            )
            for t, stance, to_parent in zip(texts, stances, to_parents, strict=True)
        ]

    def _stance_pass(
        self,
        texts: list[str],
        by_text: dict[str, _Reading],
        targets: list[ArticleState | None],
        shift: torch.Tensor,
        crossed: bool,
    ) -> list[Stance | None]:
        if not any(t is not None for t in targets):
            return [None] * len(texts)
        if crossed:
            return self._cross_stances(texts, targets, shift)
        return self._stances([by_text[t].opening for t in texts], targets, shift)

    def pooled(self, texts: list[str]) -> np.ndarray:
        """The pooled states of each text's first window, (texts, hidden): what the toxicity head reads. A learned
        version's heads are trained on these (service/training/learning.py), on this encoder, frozen."""
        self._use_threads()
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            with self._tokenizer_lock:
                enc = self.tokenizer(
                    [texts[i] for i in rows],
                    truncation=True,
                    max_length=self.config.max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
            with torch.inference_mode(), self._autocast():
                pooled = self._encode(enc["input_ids"], enc["attention_mask"]).pooled().float().numpy()
            out[rows] = pooled
        return out

    def reading_states(self, texts: list[str]) -> list[np.ndarray]:
        """Per text, the pooled states of every reading ``predict`` scores it by, (readings, hidden): each window,
        the second look's sentence where it fires and the plain reading of an obfuscated text. A text's toxicity
        scores are the maximum over its readings, so a retrained output (service/training/severe_tuning.py) can
        score a text as serving will."""
        unique = list(dict.fromkeys(texts))
        windows = self._read(unique)
        _, tokens, _ = self._gather(len(unique), windows)
        sentences = [sentence_scores(t, tokens[i]) for i, t in enumerate(unique)]
        picks = _second_look_picks(unique, sentences) + _plain_picks(unique)
        alone = list(dict.fromkeys(text for _, text in picks))
        readings: list[list[np.ndarray]] = [[] for _ in unique]
        for w in windows:
            readings[w.owner].append(w.pooled)
        by_text: dict[str, list[np.ndarray]] = {}
        for w in self._read(alone) if alone else []:
            by_text.setdefault(alone[w.owner], []).append(w.pooled)
        for i, text in picks:
            readings[i] += by_text[text]
        stacked = {t: np.stack(readings[i]) for i, t in enumerate(unique)}
        return [stacked[t] for t in texts]

    def span_tokens(self, texts: list[str]) -> list[tuple[float, list[tuple[tuple[int, int], np.ndarray]]]]:
        """Each text's highest attribute score and its tokens' (character offsets, span logits): what spans are cut
        from, so that an evaluation can try several thresholds (``extract_spans``) on one pass."""
        unique = list(dict.fromkeys(texts))  # as predict() does, so the batches (and bf16 rounding) are the same
        scores, tokens, _ = self._gather(len(unique), self._read(unique))
        by_text = {text: (float(s.max()), t) for text, s, t in zip(unique, scores, tokens, strict=True)}
        return [by_text[text] for text in texts]

    def _read(self, texts: list[str]) -> list[_Window]:
        """The encoder's outputs for every window of ``texts``, run in length-sorted batches."""
        self._use_threads()
        windows = self._windows(texts)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        for start in range(0, len(order), self.batch_size):
            self._run([windows[i] for i in order[start : start + self.batch_size]])
        return windows

    def _windows(self, texts: list[str]) -> list[_Window]:
        """Token windows of each text; short comments are a single window."""
        with self._tokenizer_lock:
            enc = self.tokenizer(
                texts,
                truncation=True,
                max_length=self.config.max_tokens,
                stride=WINDOW_STRIDE,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
            )
        out, seen = [], [0] * len(texts)
        for ids, offsets, owner in zip(
            enc["input_ids"], enc["offset_mapping"], enc["overflow_to_sample_mapping"], strict=True
        ):
            if seen[owner] < MAX_WINDOWS:
                out.append(_Window(owner, seen[owner], ids, [(int(s), int(e)) for s, e in offsets]))
            elif seen[owner] == MAX_WINDOWS:
                out[-1].last_read = False  # windows of one text arrive in order: the previous one was its last read
            seen[owner] += 1
        return out

    def _run(self, batch: list[_Window]) -> None:
        """One encoder pass over a batch of windows; fills in each window's outputs."""
        width = max(len(w.ids) for w in batch)
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, w in enumerate(batch):
            input_ids[row, : len(w.ids)] = torch.tensor(w.ids)
            mask[row, : len(w.ids)] = 1
        with torch.inference_mode(), self._autocast():
            encoded = self._encode(input_ids, mask)
            pooled = encoded.pooled()
            scores = torch.sigmoid(self.toxicity_head(pooled).float()).numpy()
            spans = self.span_head(encoded.states).float().numpy()
            pooled_rows = pooled.float().numpy()
        for row, w in enumerate(batch):
            w.scores, w.span_logits, w.pooled = scores[row], spans[row, : len(w.ids)], pooled_rows[row]
            if w.index == 0:  # stance reads a comment's opening window
                w.states = encoded.states[row, : len(w.ids)].float().clone()

    def _stances(
        self, openings: list[torch.Tensor], articles: list[ArticleState | None], shift: torch.Tensor
    ) -> list[Stance | None]:
        rows = [r for r, a in enumerate(articles) if a is not None]
        out: list[Stance | None] = [None] * len(articles)
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            comment = _stack([openings[r] for r in chunk], self.hidden)
            article = _stack([articles[r].states for r in chunk], self.hidden)  # type: ignore[union-attr]
            with torch.inference_mode(), self._autocast():
                logits = self.net.stance_logits(comment, article).float()
            probs = torch.softmax(logits + shift, dim=-1).numpy()
            for r, p in zip(chunk, probs, strict=True):
                out[r] = _stance_result(p)
        return out

    def _cross_stances(
        self, texts: list[str], articles: list[ArticleState | None], shift: torch.Tensor
    ) -> list[Stance | None]:
        """The cross-encoded stance pass over (claim, comment) pairs, in length-sorted batches."""
        assert self.cross is not None
        rows = sorted((r for r, a in enumerate(articles) if a is not None), key=lambda r: len(texts[r]))
        out: list[Stance | None] = [None] * len(articles)
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            claims = [articles[r].claim for r in chunk]  # type: ignore[union-attr]
            with self._tokenizer_lock, torch.inference_mode(), self._autocast():
                logits = self.cross.logits(self._stance_encoder, claims, [texts[r] for r in chunk])
            probs = torch.softmax(logits + shift, dim=-1).numpy()
            for r, p in zip(chunk, probs, strict=True):
                out[r] = _stance_result(p)
        return out

    def _gather(
        self, n: int, windows: list[_Window]
    ) -> tuple[list[np.ndarray], list[list[tuple[tuple[int, int], np.ndarray]]], list[torch.Tensor]]:
        """Per text: attribute scores (maximum over its windows: the worst window wins), span-logit tokens, and its
        opening's states."""
        scores = [np.zeros(len(ATTRIBUTES)) for _ in range(n)]
        tokens: list[list[tuple[tuple[int, int], np.ndarray]]] = [[] for _ in range(n)]
        openings: list[torch.Tensor] = [torch.zeros(0)] * n
        for w in windows:
            scores[w.owner] = np.maximum(scores[w.owner], w.scores)
            tokens[w.owner] += [
                (off, logit) for off, logit in zip(w.offsets, w.span_logits, strict=True) if off[0] != off[1]
            ]
            if w.states is not None:
                openings[w.owner] = w.states
        return scores, tokens, openings

    def _merge(self, texts: list[str], windows: list[_Window]) -> list[_Reading]:
        scores, tokens, openings = self._gather(len(texts), windows)
        sentences = [sentence_scores(text, tokens[i]) for i, text in enumerate(texts)]
        self._look_again(
            _second_look_picks(texts, sentences) + _plain_picks(texts), scores, _identity_look_picks(texts, sentences)
        )
        incomplete = {w.owner for w in windows if not w.last_read}
        return [
            _Reading(
                {a: round(float(s), 4) for a, s in zip(ATTRIBUTES, scores[i], strict=True)},
                extract_spans(text, tokens[i], self.config.span_threshold)
                if scores[i].max() >= self.config.span_gate
                else [],
                openings[i],
                sentences[i],
                i not in incomplete,
            )
            for i, text in enumerate(texts)
        ]

    def _look_again(
        self,
        picks: list[tuple[int, str]],
        scores: list[np.ndarray],
        identity_picks: list[tuple[int, str]] | None = None,
    ) -> None:
        """Score more readings of some texts, (text index, what to read), each as one more window: the worst
        reading wins. Two kinds: the second look (``_second_look_picks``) and the plain reading (``_plain_picks``);
        ``identity_picks`` (``_identity_look_picks``) lift identity attack alone, read in the same batch.

        The second look: a window's scores read its pooled states, so one abusive sentence among civil ones is
        diluted: "I will find you and I will kill you." scored threat 0.99 alone, 0.36 between four civil sentences
        and 0.15 inside 190 of them, while the token head still gave its words 0.86-0.88. The sentence the token
        head finds most toxic is read alone, so padding abuse with filler no longer hides it. The plain reading:
        obfuscated abuse ("p1ec3 0f sh1t", "іdіоt") written as a reader sees it (service/model/obfuscation.py).
        """
        identity_picks = identity_picks or []
        if not picks and not identity_picks:
            return
        alone = list(dict.fromkeys(text for _, text in [*picks, *identity_picks]))
        looked, _, _ = self._gather(len(alone), self._read(alone))
        by_text = dict(zip(alone, looked, strict=True))
        for i, text in picks:
            scores[i] = np.maximum(scores[i], by_text[text])
        for i, text in identity_picks:
            scores[i][_IDENTITY_ATTACK] = max(scores[i][_IDENTITY_ATTACK], by_text[text][_IDENTITY_ATTACK])


def _second_look_picks(
    texts: list[str], sentences: list[list[tuple[int, int, dict[str, float]]]]
) -> list[tuple[int, str]]:
    """The sentence to read alone, by text index, where the token head gives it SECOND_LOOK_GATE."""
    return _top_sentences(texts, sentences, SECOND_LOOK_GATE, math.inf)


def _identity_look_picks(
    texts: list[str], sentences: list[list[tuple[int, int, dict[str, float]]]]
) -> list[tuple[int, str]]:
    """The sentence to read alone for identity attack, by text index: from IDENTITY_LOOK_GATE up to SECOND_LOOK_GATE
    (above it the second look reads it for every attribute)."""
    return _top_sentences(texts, sentences, IDENTITY_LOOK_GATE, SECOND_LOOK_GATE)


def _top_sentences(
    texts: list[str], sentences: list[list[tuple[int, int, dict[str, float]]]], low: float, high: float
) -> list[tuple[int, str]]:
    """By text index, the sentence the token head finds most toxic, in a text of several sentences, where the head
    gives it at least ``low`` and less than ``high``."""
    picks = []
    for i, text in enumerate(texts):
        if len(sentences[i]) < 2:
            continue
        start, end, by_attribute = max(sentences[i], key=lambda s: s[2]["toxicity"])
        if low <= by_attribute["toxicity"] < high:
            picks.append((i, text[start:end]))
    return picks


def _plain_picks(texts: list[str]) -> list[tuple[int, str]]:
    """The plain reading of each obfuscated text, by text index."""
    return [(i, plain) for i, text in enumerate(texts) if (plain := plain_reading(text)) is not None]


@dataclass
class _Window:
    owner: int
    index: int
    ids: list[int]
    offsets: list[tuple[int, int]]
    scores: Any = None
    span_logits: Any = None
    states: torch.Tensor | None = None
    pooled: Any = None  # what the toxicity head read
    last_read: bool = True  # False on the last window read of a text that had more


@dataclass
class _Reading:
    scores: dict[str, float]
    spans: list[Span]
    opening: torch.Tensor
    sentences: list[tuple[int, int, dict[str, float]]]
    complete: bool


def _store_linear_weights_in_bf16(module: torch.nn.Module) -> None:
    """Keep the encoder's matrix weights in bf16 once, instead of letting autocast cast them on every pass.

    Autocast would make the same bf16 copies (so the outputs are identical), but afresh for each batch: for a batch
    of one comment that copying was 22 % of the pass in a profile. LayerNorm and embeddings stay fp32, as under
    autocast.
    """
    for child in module.modules():
        if isinstance(child, torch.nn.Linear):
            child.to(torch.bfloat16)


class _LastHiddenState(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _traced_encoder(encoder: torch.nn.Module, bf16: bool) -> Any:
    """The encoder traced and frozen into one TorchScript graph, run in C++ without the transformers Python code.

    For a lone comment that Python was about a third of the pass, and it holds the GIL that the other model stream
    and the event loop need. bench/model.py, side by side: a lone comment per stream in the service's layout 94.5
    against 77.4 comments/s, batch 32 176.0 against 169.8; outputs are bit-identical on batches of 1-32 and
    58-256 tokens (a model test checks). The trace uses a padded batch, so the masked attention path is the one
    recorded; nothing in that path depends on the values, so it holds for any batch size and length.
    """
    # TorchScript's own autocast pass would add casts to fp32 around GELU and others on top of the casts the trace
    # recorded (20 % slower at batch 32 in a profile); the recorded ones are exactly eager autocast's, so switch it off.
    torch._C._jit_set_autocast_mode(False)
    ids = torch.arange(1000, 1032).reshape(2, 16)  # any token ids: the path does not depend on them
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    with (
        torch.no_grad(),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", TracerWarning)
        # tracing reads every attribute of the module, transformers' deprecated is_gradient_checkpointing among them:
        # its FutureWarning was logged at each start, about a property Moderato never uses
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(_LastHiddenState(encoder).eval(), (ids, mask), check_trace=False)
        return torch.jit.freeze(traced)


def _stack(states: list[torch.Tensor], hidden: int) -> Encoded:
    """Pad token-state matrices of different lengths into one batch."""
    width = max(s.shape[0] for s in states)
    padded = torch.zeros((len(states), width, hidden))
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for i, s in enumerate(states):
        padded[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return Encoded(padded, mask)


def _prior_shift(train: list[float], prior: list[float] | None) -> torch.Tensor:
    if prior is None:
        return torch.zeros(len(STANCES))
    return torch.tensor([math.log(max(p, 1e-6)) - math.log(max(q, 1e-6)) for p, q in zip(prior, train, strict=True)])


def _toward_parent(stance: Stance | None) -> Stance | None:
    if stance is None:
        return None
    scores = parent_scores(stance.scores)
    return Stance(max(scores, key=scores.__getitem__), scores)


def _with_confidence(stance: Stance | None, confidence_map: ConfidenceMap | None) -> Stance | None:
    if stance is None:
        return None
    confidence, confident = stance_confidence(confidence_map, stance.scores[stance.label])
    return replace(stance, confidence=confidence, confident=confident)


def _stance_result(probs: np.ndarray) -> Stance:
    scores = {label: round(float(p), 4) for label, p in zip(STANCES, probs, strict=True)}
    return Stance(max(scores, key=scores.__getitem__), scores)


def extract_spans(text: str, tokens: list[tuple[tuple[int, int], np.ndarray]], threshold: float) -> list[Span]:
    """Character spans from per-token logits: toxic tokens, widened to whole words, merged across whitespace.

    The attribute of a span is the type the span head rates highest, averaged over the span's tokens.
    """
    cut = math.log(threshold / (1 - threshold))
    raw: list[list[Any]] = []  # [start, end, summed type logits]
    for (start, end), logits in sorted(tokens, key=lambda t: t[0]):
        if logits[0] < cut:
            continue
        start, end = _word_bounds(text, start, end)
        if raw and start <= raw[-1][1] + 1 and not text[raw[-1][1] : start].strip():
            raw[-1][1] = max(raw[-1][1], end)
            raw[-1][2] = raw[-1][2] + logits[1:]
        else:
            raw.append([start, end, logits[1:].copy()])
    return [Span(s, e, SPAN_ATTRIBUTES[int(np.argmax(types))]) for s, e, types in raw]


SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def sentence_scores(
    text: str, tokens: list[tuple[tuple[int, int], np.ndarray]]
) -> list[tuple[int, int, dict[str, float]]]:
    """Each sentence of ``text`` (trimmed of surrounding spaces) with, per span attribute, the highest probability the
    token head gives any of its tokens: P(toxic) for toxicity, P(toxic) x P(that type | toxic) for the others.

    Vectorised over the tokens (one sigmoid and softmax for the whole comment): this runs for every comment in the
    serving process, and per-token Python here held the GIL the event loop needs during a burst."""
    bounds = []
    for match in SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            bounds.append((start, end))
    if not bounds:
        return []
    best = np.zeros((len(bounds), len(SPAN_ATTRIBUTES)))
    if tokens:
        starts = np.fromiter((s for (s, _), _ in tokens), dtype=np.int64, count=len(tokens))
        logits = np.stack([logit for _, logit in tokens]).astype(np.float64)
        toxic = 1 / (1 + np.exp(-logits[:, 0]))
        types = np.exp(logits[:, 1:] - logits[:, 1:].max(axis=1, keepdims=True))
        by_type = toxic[:, None] * types / types.sum(axis=1, keepdims=True)
        by_type[:, SPAN_INDEX["toxicity"]] = toxic  # "toxicity" is any type; its own slot is Toxic Spans' "other"
        sentence_starts = np.array([b[0] for b in bounds])
        sentence_ends = np.array([b[1] for b in bounds])
        owner = np.searchsorted(sentence_starts, starts, side="right") - 1  # the sentence each token starts in
        inside = (owner >= 0) & (starts < sentence_ends[np.maximum(owner, 0)])
        np.maximum.at(best, owner[inside], by_type[inside])
    rounded = np.round(best, 4).tolist()
    return [
        (start, end, dict(zip(SPAN_ATTRIBUTES, values, strict=True)))
        for (start, end), values in zip(bounds, rounded, strict=True)
    ]


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end
