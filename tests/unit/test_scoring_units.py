import pytest

from service import redis_keys as keys
from service.api.auth import KeyRing, Principal, development_key
from service.config import PolicySettings
from service.scoring.normalise import digest, normalise, text_problem
from service.scoring.policy import Policy


def test_normalise_folds_case_space_and_lookalikes_and_maps_back() -> None:
    raw = "  You   𝐢𝐝𝐢𝐨𝐭\n\nNOW "
    n = normalise(raw)
    assert n.text == "you idiot now"
    start = n.text.index("idiot")
    s, e = n.to_raw(start, start + len("idiot"))
    assert raw[s:e] == "𝐢𝐝𝐢𝐨𝐭"
    assert normalise("   ").text == "" and normalise("   ").to_raw(0, 1) == (0, 0)


def test_normalise_keeps_a_capital_i_inside_a_lower_case_word_alone() -> None:
    """ "kiII" is drawn "kill" in most fonts: the plain reading reads it so; the tokenizer lower-cases it anyway."""
    assert normalise("Go kiII yourself").text == "go kiII yourself"
    assert normalise("IKEA, III, I and It").text == "ikea, iii, i and it"
    assert normalise("MusIims").text == "musIims"
    # opening a lower-case word in mid-sentence ("you Ioser"); a sentence's first word is case-folded as before
    assert normalise("Ioser. You Ioser, Indeed").text == "ioser. you Ioser, Indeed"


def test_characters_that_show_as_a_blank_are_read_as_spaces() -> None:
    """Hangul fillers and the braille blank between words hid an insult as one unknown word (allowed at 0.07)."""
    assert normalise("you\u3164are\u2800a\uffa0worthless\u115fidiot").text == "you are a worthless idiot"
    assert text_problem("\u3164\u2800 \u1160") == ("empty_text", "text is empty or only whitespace")


def test_digest_separates_model_article_and_text() -> None:
    base = digest("v1", "hello", "a1")
    assert base == digest("v1", "hello", "a1")
    assert (
        len(
            {
                base,
                digest("v2", "hello", "a1"),
                digest("v1", "hello", None),
                digest("v1", "hello!", "a1"),
                digest("v1", "a1hello", ""),
            }
        )
        == 5
    )


def test_policy_rejects_before_review_and_explains() -> None:
    policy = Policy.from_settings(PolicySettings(review={"toxicity": 0.5, "insult": 0.8}, reject={"threat": 0.9}))
    assert policy.decide({"toxicity": 0.1}).decision == "allow"
    review = policy.decide({"toxicity": 0.6, "insult": 0.85})
    assert review.decision == "review" and review.reasons == ["toxicity >= 0.50", "insult >= 0.80"]
    reject = policy.decide({"toxicity": 0.99, "threat": 0.95})
    assert reject.decision == "reject" and reject.reasons == ["threat >= 0.90"]
    flood = policy.decide({"toxicity": 0.0}, flood_count=9, flood_window_s=60)
    assert flood.decision == "review" and flood.reasons == ["flood: posted 9 times in 60 s"]
    with pytest.raises(ValueError, match="unknown attributes"):
        Policy.from_settings(PolicySettings(review={"rudeness": 0.5}))


def test_a_reason_gives_the_threshold_as_it_is() -> None:
    """Carried over the calibration, built-in thresholds have four places: rounded to two, raw threat 0.85 read
    "threat >= 1.00" and an insult threshold of 0.7992 read "insult >= 0.80" on a comment that scored 0.7995."""
    policy = Policy.from_settings(PolicySettings(review={"insult": 0.7992, "toxicity": 1.0}, reject={"threat": 0.9985}))
    assert policy.decide({"insult": 0.7995}).reasons == ["insult >= 0.7992"]
    assert policy.decide({"threat": 0.999}).reasons == ["threat >= 0.9985"]
    assert policy.decide({"toxicity": 1.0}).reasons == ["toxicity >= 1.00"]


def test_keyring_parses_hashes_and_looks_up() -> None:
    ring = KeyRing.parse("k1=site-a:platform, k2=site-a:moderator:alice\n# comment\nk3=site-b:admin")
    assert len(ring) == 3
    assert ring.lookup("k2") == Principal("site-a", "moderator", "alice")
    assert ring.lookup("k3").name.startswith("admin-")  # type: ignore[union-attr]
    assert ring.lookup("k4") is None and ring.lookup("") is None
    assert b"k1" not in repr(ring._entries).encode()
    for bad in ("k1=site-a", "k1=site-a:root", "=site:admin", "k=a{b}:admin", "k=a:admin:b:c"):
        with pytest.raises(ValueError):
            KeyRing.parse(bad)


def test_development_key_is_created_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key, created = development_key(tmp_path)
    assert created and key.startswith("mk_dev_")
    assert development_key(tmp_path) == (key, False)
    assert (tmp_path / "dev-api-key").stat().st_mode & 0o077 == 0


def test_every_key_carries_the_tenant() -> None:
    assert keys.result("t1", "abc") == "mod:{t1}:result:abc"
    assert keys.article_states("t1", "v1", "a").startswith("mod:{t1}:")
    with pytest.raises(ValueError):
        keys.flood("a:b", "x")
    with pytest.raises(ValueError):
        keys.flood("", "x")
