"""``python -m nlp train-call-heads``: train the call heads (``nlp.compliance.learned``).

Data (never the dev calls in ``tests/data/dev_calls*``):

* ``nlp/train_data/agent_turns/*.jsonl``: agent turns in context, labelled with the party on
  the line and the rules they break (hard negatives included);
* ``nlp/train_data/callee_turns/*.jsonl``: callee turns in context, labelled with who the
  callee is and their mood;
* ordinary agent talk as negatives for the agent labels: the agent turns of the demo
  generator's clean calls (greetings, reminders, plan offers, polite wrong-party calls), so
  the heads meet a realistic share of harmless turns. Without them a head trained on the
  violation-rich labelled turns fires on every third ordinary turn.

The party and mood heads read the default model's encoder features (the cache of
``training.heads``), a callee turn's own beside the agent turn before it; the agent heads read
the agent turn's character n-grams (``nlp.ngrams``), the party and the rules' answer. A seeded 20% of each set is the tuning split: an agent label's
threshold is the one with the best F1 of "rule or head" there. The card records the tuning
figures. About a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

from nlp.compliance.learned import (
    AGENT_LABELS,
    CALL_HEADS_PATH,
    FINE_PARTIES,
    CallHeads,
    pair_features,
    party_onehot,
    position_onehot,
)
from nlp.labels import SENTIMENTS
from training.heads import _prf, encode, fit_head, negative_weight, weighted_threshold

ROOT = Path(__file__).resolve().parents[1]
AGENT_DIR = ROOT / "nlp" / "train_data" / "agent_turns"
CALLEE_DIR = ROOT / "nlp" / "train_data" / "callee_turns"
SEED = 17
TURN_PREVALENCE = 0.03
"""About how many agent turns of real calls break a given rule. The labelled turns are far
richer in violations (a threshold chosen on them as they are fires too often on real calls),
so each agent label's threshold is chosen on the tuning split with its negatives weighted up
to this share."""


def _records(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _before(rec: dict) -> str | None:
    """The text of the turn just before the labelled one (the last context turn)."""
    context = rec.get("context") or []
    return str(context[-1]["text"]) if context else None


def _pairs(records: list[dict], log) -> np.ndarray:
    texts = [str(r["text"]) for r in records]
    befores = [_before(r) for r in records]
    wanted = list(dict.fromkeys([*texts, *(b for b in befores if b)]))
    _, feats, _ = encode(wanted, log)
    index = dict(zip(wanted, feats, strict=True))
    return np.asarray(
        [
            pair_features(index[t], index[b] if b else None)
            for t, b in zip(texts, befores, strict=True)
        ]
    )


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(SEED).permutation(n)
    cut = int(n * 0.8)
    return np.sort(order[:cut]), np.sort(order[cut:])


def _ordinary_agent_turns(limit: int = 1500) -> list[dict]:
    """Agent turns of the demo generator's clean calls, as labelled records (no labels)."""
    from data.demo import generate_demo

    demo = generate_demo(n_surveys=1, n_calls=360)
    clean = set(demo.call_truth.loc[demo.call_truth["violations"].map(len) == 0, "call_id"])
    wrong = set(demo.calls.loc[demo.calls["outcome"] == "wrong_party", "call_id"])
    turns = demo.turns.sort_values(["call_id", "turn_index"])
    records, seen, before = [], set(), {}
    for row in turns.itertuples(index=False):
        if row.speaker == "agent" and row.call_id in clean and row.text not in seen:
            seen.add(row.text)
            prev = before.get(row.call_id)
            records.append(
                {
                    "text": row.text,
                    "context": [{"speaker": "callee", "text": prev}] if prev else [],
                    "party": "stranger" if row.call_id in wrong else "borrower",
                    "labels": [],
                }
            )
        elif row.speaker != "agent":
            before[row.call_id] = row.text
    rng = np.random.default_rng(SEED)
    keep = rng.permutation(len(records))[:limit]
    return [records[i] for i in sorted(keep)]


def _weighted_figures(pred: np.ndarray, y: np.ndarray, prevalence: float) -> dict:
    """Precision, recall and F1 with the negatives weighted to ``prevalence`` (the card's
    tuning figures, as the threshold saw them)."""
    w_neg = negative_weight(y, prevalence)
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum()) * w_neg
    fn = float((~pred & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1}


def _softmax_fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(x, y)
    return model.coef_, model.intercept_


def train(log=print, c: float = 0.3, agent_c: float = 10.0) -> CallHeads:
    """Train the party, agent-label and mood heads; return them with their card."""
    from nlp.compliance.engine import default_engine

    agent, callee = _records(AGENT_DIR), _records(CALLEE_DIR)
    if not agent or not callee:
        raise SystemExit(f"no labelled turns in {AGENT_DIR} or {CALLEE_DIR}")
    ordinary = _ordinary_agent_turns()
    log(f"{len(agent):,} labelled agent turns + {len(ordinary):,} ordinary ones")
    agent = agent + ordinary
    x_callee = _pairs(callee, log)
    mean, scale = x_callee.mean(axis=0), x_callee.std(axis=0) + 1e-6
    z_callee = (x_callee - mean) / scale
    card: dict = {
        "date": date.today().isoformat(),
        "data": {
            "agent_turns": len(agent) - len(ordinary),
            "ordinary_agent_turns": len(ordinary),
            "callee_turns": len(callee),
        },
        "regularisation_c": c,
    }

    # who is on the line, from callee turns
    fit, tune = _split(len(callee))
    fine = [r.get("party") if r.get("party") in FINE_PARTIES else "unknown" for r in callee]
    names = sorted(set(fine))
    y = np.asarray([names.index(p) for p in fine])
    party_w, party_b = _softmax_fit(z_callee[fit], y[fit], c)
    coarse = np.asarray([FINE_PARTIES[p] for p in fine])
    pred = np.asarray(names)[np.argmax(z_callee[tune] @ party_w.T + party_b, axis=1)]
    card["party_tune_accuracy"] = float(np.mean([FINE_PARTIES[p] for p in pred] == coarse[tune]))
    log(f"party head: tuning accuracy {card['party_tune_accuracy']:.3f}")

    # the callee's mood in context
    moods = np.asarray([SENTIMENTS.index(r.get("mood", "neutral")) for r in callee])
    placed = np.hstack(
        [z_callee, np.asarray([position_onehot(r.get("position", "middle")) for r in callee])]
    )
    mood_w, mood_b = _softmax_fit(placed[fit], moods[fit], c)
    mood_pred = np.argmax(placed[tune] @ mood_w.T + mood_b, axis=1)
    card["mood_tune_accuracy"] = float(np.mean(mood_pred == moods[tune]))
    log(f"mood head: tuning accuracy {card['mood_tune_accuracy']:.3f}")

    # what the agent did, given the party and the rules' answer
    engine = default_engine()
    parties = [FINE_PARTIES.get(r.get("party", "unknown"), "unknown") for r in agent]
    hits = np.asarray(
        [
            [
                float(
                    r
                    in {
                        e.rule
                        for e in engine.scan_agent_turn(
                            str(rec["text"]),
                            third_party_callee=p in ("third_party", "wrong_number"),
                        )
                    }
                )
                for r in AGENT_LABELS
            ]
            for rec, p in zip(agent, parties, strict=True)
        ]
    )
    onehot = np.asarray([party_onehot(p) for p in parties])
    fit, tune = _split(len(agent))
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlp.textnorm import normalize_many

    norm = normalize_many([str(r["text"]) for r in agent])
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    vec.fit([norm[i] for i in fit])
    grams = vec.transform(norm)
    weights, biases, thresholds, report = [], [], [], {}
    for j, label in enumerate(AGENT_LABELS):
        y = np.asarray([float(label in (r.get("labels") or [])) for r in agent])
        x = hstack([grams, csr_matrix(onehot), csr_matrix(hits[:, [j]])]).tocsr()
        w, b = fit_head(x[fit], y[fit], agent_c, balanced=False)  # the real share of harm
        p = 1 / (1 + np.exp(-(x[tune] @ w + b)))
        threshold = weighted_threshold(p, y[tune], prevalence=TURN_PREVALENCE)
        figures = _weighted_figures(p >= threshold, y[tune], TURN_PREVALENCE)
        report[label] = {
            "positives": int(y[fit].sum()),
            "threshold": threshold,
            "tune_heads": figures,
            "tune_rules": _prf(hits[tune, j] > 0, y[tune]),
        }
        log(
            f"{label:<24} heads F1 {figures['f1']:.3f}  rules F1 "
            f"{report[label]['tune_rules']['f1']:.3f}  t={threshold}"
        )
        weights.append(w)
        biases.append(b)
        thresholds.append(threshold)
    card["agent_report"] = report
    return CallHeads(
        mean=mean,
        scale=scale,
        agent_vocab={g: int(i) for g, i in vec.vocabulary_.items()},
        agent_idf=vec.idf_.astype(np.float64),
        agent_weights=np.asarray(weights),
        agent_bias=np.asarray(biases),
        agent_thresholds=np.asarray(thresholds),
        party_weights=party_w,
        party_bias=party_b,
        party_names=tuple(names),
        mood_weights=mood_w,
        mood_bias=mood_b,
        card=card,
    )


def main_train_call_heads(argv: list[str] | None = None) -> int:
    """``python -m nlp train-call-heads [--out nlp/model/call_heads.npz] [--c 0.3]``."""
    ap = argparse.ArgumentParser(
        prog="python -m nlp train-call-heads", description="训练通话标签头"
    )
    ap.add_argument("--out", type=Path, default=CALL_HEADS_PATH)
    ap.add_argument("--c", type=float, default=0.3, help="逻辑回归正则化强度的倒数")
    args = ap.parse_args(argv)
    heads = train(lambda m: print(m, file=sys.stderr), args.c)
    heads.save(args.out)
    print(f"已保存通话标签头 → {args.out}", file=sys.stderr)
    return 0
