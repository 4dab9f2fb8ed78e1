"""Whether a Predictor built without a choice runs in bf16: MODERATO_BF16 decides when set, the CPU otherwise."""

from __future__ import annotations

import pytest

from service import system


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("true", True), ("1", True)])
def test_moderato_bf16_decides_when_set(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("MODERATO_BF16", value)
    monkeypatch.setattr(system, "cpu_has_bf16", lambda: not expected)  # the CPU would say the opposite
    assert system.bf16_by_default() is expected


def test_unset_it_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODERATO_BF16", raising=False)
    for native in (True, False):
        monkeypatch.setattr(system, "cpu_has_bf16", lambda native=native: native)
        assert system.bf16_by_default() is native


def test_a_value_settings_would_refuse_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATO_BF16", "maybe")
    with pytest.raises(ValueError):
        system.bf16_by_default()
