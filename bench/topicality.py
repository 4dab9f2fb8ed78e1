"""Article stance's on-topic call on the held-out behaviour set (tests/model/topicality_set.py): how often on-topic
insults, civil comments and off-topic chatter are called `unrelated`, per model, side by side.

Run: `python bench/topicality.py model_cards/moderato-v4 model_cards/moderato-v8` (each folder's late-interaction
article head, under the service's default stance prior and the article's title and lead, as served).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.config import DEFAULT_STANCE_PRIOR  # noqa: E402
from service.model.predict import Predictor  # noqa: E402
from tests.model.topicality_set import counts, unrelated_shares  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for folder in args.models:
        shares = unrelated_shares(Predictor(folder, stance_prior=list(DEFAULT_STANCE_PRIOR)))
        rows.append(
            {
                "model": folder.name,
                "on-topic insults called unrelated": f"{shares['insults']:.3f}",
                "civil on-topic called unrelated": f"{shares['civil']:.3f}",
                "off-topic chatter caught": f"{shares['off_topic']:.3f}",
            }
        )
    print_table(rows)
    write_result("topicality", rows, {"set": counts(), "targets": "insults <= 0.10, chatter >= 0.70"})


if __name__ == "__main__":
    main()
