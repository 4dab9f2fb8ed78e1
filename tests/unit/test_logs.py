"""The service's logs: one JSON object per line, whatever writes them."""

from __future__ import annotations

import pytest


def test_library_warnings_are_logged_as_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging
    import warnings

    from service.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("`old_api` is deprecated\nand spans two lines", FutureWarning, stacklevel=1)
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert lines and all(json.loads(line)["logger"] == "py.warnings" for line in lines), lines
    finally:
        logging.captureWarnings(False)
        root.handlers[:], level = saved
        root.setLevel(level)
