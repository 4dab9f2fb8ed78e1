"""The shipped severe-toxicity output (made as model_cards/moderato-v9 by ``moderato retune-severe``, kept bit for bit
by moderato-v10): only it moved, it reaches high scores on severe abuse and not on milder rudeness, and the built-in
thresholds are the ones chosen for it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from service.config import DEFAULT_REJECT, DEFAULT_REVIEW
from service.model.calibration import Calibration
from service.model.checkpoint import WEIGHTS_FILE, read_config, read_weights
from service.model.labels import ATTRIBUTE_INDEX
from service.model.predict import Predictor
from service.training import severe_dev
from service.training.clear_cases import CLEAR_CASES
from service.training.severe_tuning import METRICS_FILE
from tests.conftest import SHIPPED_MODEL

pytestmark = pytest.mark.model

SEVERE = ATTRIBUTE_INDEX["severe_toxicity"]
RETUNED = SHIPPED_MODEL.parent / "moderato-v9"  # the folder retune-severe wrote
REPORT = json.loads((RETUNED / METRICS_FILE).read_text())


def test_only_the_severe_output_differs_from_the_start() -> None:
    """The shipped folder stores only the toxicity head's last layer (``weights_of`` its start) and in it only the
    severe row differs; read whole, every other tensor is the start's."""
    start_folder = RETUNED.parent / read_config(RETUNED).weights_of
    assert start_folder.name == REPORT["start"].split("/")[-1]
    stored = load_file(str(RETUNED / WEIGHTS_FILE))
    assert set(stored) == {"toxicity_head.3.weight", "toxicity_head.3.bias"}
    shipped, start = read_weights(RETUNED), read_weights(start_folder)
    assert shipped.keys() == start.keys()
    for name, tensor in shipped.items():
        if name in stored:
            others = [i for i in range(tensor.shape[0]) if i != SEVERE]
            assert torch.equal(tensor[others], start[name][others]), name
            assert not torch.equal(tensor[SEVERE], start[name][SEVERE]), name
        else:
            assert torch.equal(tensor, start[name]), name


def _severe(predictor: Predictor, texts: tuple[str, ...]) -> np.ndarray:
    calibration = Calibration.load(SHIPPED_MODEL)
    assert calibration is not None
    raw = [p.scores["severe_toxicity"] for p in predictor.predict(list(texts))]
    return np.array([calibration.score("severe_toxicity", v) for v in raw])


def test_severe_abuse_reads_far_above_milder_rudeness(predictor: Predictor) -> None:
    severe, milder = _severe(predictor, CLEAR_CASES["severe_toxicity"]), _severe(predictor, severe_dev.NOT_SEVERE)
    assert (severe >= 0.7).mean() >= 0.8 and (severe >= 0.8).mean() >= 0.8  # moderato-v10's card: 85 % and 85 %
    assert np.median(milder) < 0.5 and (milder >= 0.8).sum() == 0
    # a plain insult is mostly not severe, though the card says 7 of the 30 written ones read 0.8 or more (the map
    # that holds severe abuse at 0.8 rises steeply there; moderato-v9's sigmoid read 4)
    assert (_severe(predictor, CLEAR_CASES["insult"]) >= 0.8).mean() <= 0.25


def test_the_built_in_thresholds_are_the_ones_chosen_for_this_output() -> None:
    moved = REPORT["raw_thresholds"]
    assert DEFAULT_REVIEW["severe_toxicity"] == moved["review"]["after"]
    assert DEFAULT_REJECT["severe_toxicity"] == moved["reject"]["after"]


def test_reading_states_score_each_text_as_predict_does(predictor: Predictor) -> None:
    """The retune's dev readout and thresholds read ``reading_states``: the head over them must give predict's
    scores, for a short comment, a threat among civil sentences (the second look) and one past a window."""
    texts = [
        "You are a pathetic moron.",
        "Nice weather today. The council met on Tuesday. I will find you and I will kill you. See you at the game.",
        "The library budget was discussed at length. " * 60 + "Drop dead, you worthless scum.",
    ]
    states = predictor.reading_states(texts)
    assert [len(s) for s in states][:2] == [1, 2] and len(states[2]) >= 3
    (civil,) = predictor.reading_states(["Thanks for the article."])  # no second look anywhere in the call
    assert civil.shape == (1, predictor.hidden)
    with torch.no_grad(), predictor._autocast():  # as predict runs the head: in bf16 where the CPU computes it
        for readings, prediction in zip(states, predictor.predict(texts), strict=True):
            logits = predictor.toxicity_head(torch.from_numpy(readings)).float()
            scores = torch.sigmoid(logits).max(0).values.numpy()
            assert np.allclose(scores, [prediction.scores[a] for a in ATTRIBUTE_INDEX], atol=2e-4)
