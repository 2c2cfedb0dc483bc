"""Simulated users, simulated sensors and the user's own simulator, validated by simulation:
profiles fitted on data made with a known noise process recover it, and applying a fitted
user profile moves clean text toward the real users' measures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from tether.errors import InputError
from tether.generate import run
from tether.generate.simulate import (
    CallableSimulator,
    SensorProfile,
    SimulatedSensor,
    SimulatedUsers,
    UserProfile,
    abbreviation_rate,
    dataset_series,
    fit_sensor,
    fit_user_profile,
    lowercase_share,
    no_final_punctuation_share,
    simulate_series,
    typo_rate,
    word_counts,
)

SENT = re.compile(r"(?<=[.!?])\s+")


def sentences(article: str) -> list[str]:
    body = article.split("\n\n", 1)[-1].replace("\n", " ")
    return [s for s in SENT.split(body) if len(s.split()) > 3]


def messy(text: str, rng: np.random.Generator) -> str:
    """The known noise process of the 'real users': 6% of lower-case words get a random letter
    replaced, 40% of texts are all lower case, half lose their final punctuation."""
    def slip(m: re.Match[str]) -> str:
        w = m.group()
        if rng.random() >= 0.06:
            return w
        i = int(rng.integers(len(w)))
        return w[:i] + "qxzjkv"[int(rng.integers(6))] + w[i + 1:]

    text = re.sub(r"\b[a-z]{3,}\b", slip, text)
    if rng.random() < 0.4:
        text = text.lower()
    if rng.random() < 0.5:
        text = text.rstrip(".!?")
    return text


@pytest.fixture(scope="module")
def real_and_clean(bbc):
    articles = bbc.column("text").to_pylist()
    rng = np.random.default_rng(0)
    before = [s for a in articles[0:2225:4] for s in sentences(a)[:3]]
    real = [messy(s, rng) for s in before]
    clean = [" ".join(sentences(a)[:4]) for a in articles[1:2225:8]]
    return real, clean, before


def test_profile_recovers_the_known_noise(real_and_clean):
    real, _, before = real_and_clean
    profile = fit_user_profile(real)
    # the injected 6%, plus the word list's misses on the same sentences before the noise
    assert typo_rate(before) < 0.015
    assert profile.typo_rate == pytest.approx(0.06 + typo_rate(before), abs=0.01)
    assert profile.lowercase_share == pytest.approx(0.4, abs=0.04)
    assert profile.no_final_punctuation_share == pytest.approx(0.5, abs=0.04)
    assert profile.capitalised_share > 0.95
    assert profile.length_quantiles == sorted(profile.length_quantiles)
    assert profile.length_quantiles[10] == np.median(word_counts(real))


def test_applied_profile_moves_clean_text_toward_real(real_and_clean):
    real, clean, _ = real_and_clean
    gen = SimulatedUsers(fit_user_profile(real))
    seeds = [{"id": f"c{i}", "text": t, "label": "x", "label_origin": "real"}
             for i, t in enumerate(clean)]
    out = [s["text"] for s in gen.generate(seeds, seed=1)]
    before = {"typo": abs(typo_rate(clean) - typo_rate(real)),
              "length": wasserstein_distance(word_counts(clean), word_counts(real)),
              "lower": abs(lowercase_share(clean) - lowercase_share(real)),
              "punct": abs(no_final_punctuation_share(clean) - no_final_punctuation_share(real))}
    after = {"typo": abs(typo_rate(out) - typo_rate(real)),
             "length": wasserstein_distance(word_counts(out), word_counts(real)),
             "lower": abs(lowercase_share(out) - lowercase_share(real)),
             "punct": abs(no_final_punctuation_share(out) - no_final_punctuation_share(real))}
    assert before["typo"] > 0.04 and before["length"] > 30
    for key in before:
        assert after[key] < 0.35 * before[key], (key, before[key], after[key])


def test_simulated_users_keep_labels_in_the_store(store, bbc):
    seeds = bbc.slice(0, 20)
    store.ingest("clean", seeds, origin="real", label_origin="real")
    profile = fit_user_profile(["ok thx see u tmrw", "pls send teh report", "u r late again"])
    result = run(store, SimulatedUsers(profile, fitted_on="chat"), "clean", "messy", seed=2)
    assert result.added == 20
    rows = store.table("messy").to_pylist()
    labels = dict(zip(seeds.column("id").to_pylist(), seeds.column("label").to_pylist()))
    assert all(r["label"] == labels[r["parents"][0]] and r["label_origin"] == "real"
               and r["family"] == "simulation" for r in rows)
    assert all(r["text"] == r["text"].lower() and len(r["text"].split()) <= 5 for r in rows)
    assert json.loads(rows[0]["generator_config"])["fitted_on"] == "chat"


def test_abbreviation_rate_is_fitted_and_applied():
    texts = ["can u send it", "thank you for that", "pls call me", "please call", "see u"]
    assert abbreviation_rate(texts) == pytest.approx(3 / 5)
    profile = fit_user_profile(["u r great, thx"] * 3)
    assert profile.abbreviation_rate == 1.0
    gen = SimulatedUsers(profile)
    out = next(gen.generate([{"id": "a", "text": "Are you there? Thanks"}], seed=0))["text"]
    assert out.split()[:3] == ["r", "u", "there?"] or out.lower().split()[:2] == ["r", "u"]


def test_profile_save_load_roundtrip(tmp_path, real_and_clean):
    profile = fit_user_profile(real_and_clean[0][:200])
    path = profile.save(tmp_path / "p.json")
    assert UserProfile.load(path) == profile
    data = json.loads(path.read_text())
    assert data["word_list"].startswith("pyspellchecker-en@") and len(data["quantiles"]) == 21
    (tmp_path / "bad.json").write_text('{"typo_rate": 1}')
    with pytest.raises(InputError, match="bad.json"):
        UserProfile.load(tmp_path / "bad.json")
    with pytest.raises(InputError):
        fit_user_profile(["", "  "])


TRUE_SENSOR = SensorProfile(level=20.0, drift=0.001, phi=0.7, noise_sd=0.5, dropout_rate=0.03,
                            stuck_rate=0.005, stuck_length=8.0, n=20000)


def test_sensor_fit_recovers_simulation_parameters():
    fits = [fit_sensor(simulate_series(TRUE_SENSOR, 20000, np.random.default_rng(s)).tolist())
            for s in range(5)]
    mean = {k: float(np.mean([getattr(f, k) for f in fits])) for k in TRUE_SENSOR.to_dict()}
    assert mean["level"] == pytest.approx(20.0, abs=0.05)
    assert mean["drift"] == pytest.approx(0.001, rel=0.02)
    assert mean["phi"] == pytest.approx(0.7, abs=0.015)
    assert mean["noise_sd"] == pytest.approx(0.5, rel=0.02)
    assert mean["dropout_rate"] == pytest.approx(0.03, abs=0.003)
    assert mean["stuck_rate"] == pytest.approx(0.005, rel=0.2)
    assert mean["stuck_length"] == pytest.approx(8.0, rel=0.2)


def test_sensor_rows_round_trip_through_the_store(store):
    x = simulate_series(TRUE_SENSOR, 4000, np.random.default_rng(9))
    real = [{"t": t, "value": None if np.isnan(v) else v} for t, v in enumerate(x.tolist())]
    store.ingest("plant", real, origin="real", text_field=None)
    fitted = fit_sensor(dataset_series(store, "plant", "value"))
    assert fitted.phi == pytest.approx(0.7, abs=0.05)
    result = run(store, SimulatedSensor(fitted, 3000, fitted_on="plant"), None, "sim", seed=1)
    assert (result.added, result.failed) == (3000, 0)
    rows = store.table("sim").to_pylist()
    assert all(r["text"] is None and r["family"] == "simulation" for r in rows)
    refit = fit_sensor(dataset_series(store, "sim", "value"))
    assert refit.phi == pytest.approx(fitted.phi, abs=0.06)
    assert refit.noise_sd == pytest.approx(fitted.noise_sd, rel=0.1)
    assert refit.level == pytest.approx(fitted.level, abs=0.3)
    with pytest.raises(InputError, match="no numeric field 'temp'"):
        dataset_series(store, "plant", "temp")
    with pytest.raises(InputError, match="no seed"):
        list(SimulatedSensor(fitted, 5).generate([{"id": "a"}], 0))


def test_callable_simulator_records_failures(store):
    store.ingest("seeds", [{"id": f"s{i}", "text": f"order {i}"} for i in range(5)], origin="real")

    def sim(row, rng):
        if row["id"] == "s3":
            raise ValueError("bad seed")
        return [{"text": f"{row['text']} #{k} {rng.integers(100)}", "label": "order"}
                for k in range(2)]

    gen = CallableSimulator(sim, "orders", "0.1", {"k": 2})
    result = run(store, gen, "seeds", "sim", seed=4)
    assert (result.added, result.failed) == (8, 1)
    assert store.failures(result.run_id)[0]["reason"] == "ValueError: bad seed"
    rows = store.table("sim").to_pylist()
    assert all(r["label_origin"] == "synthetic" and r["generator"] == "orders@0.1"
               and r["family"] == "simulation" and len(r["parents"]) == 1 for r in rows)
    again = [s["text"] for s in gen.generate([{"id": "s1", "text": "order 1"}], seed=4)]
    assert again == [r["text"] for r in rows if r["parents"] == ["s1"]]


def test_callable_simulator_without_seeds_or_text(store):
    gen = CallableSimulator(lambda row, rng: [{"reading": float(v)} for v in rng.normal(size=4)],
                            "noise", "1", text_field=None)
    assert run(store, gen, None, "readings", seed=0).added == 4
    bad = CallableSimulator(lambda row, rng: "nope", "bad", "1")
    assert run(store, bad, None, "x", seed=0).failed == 1
