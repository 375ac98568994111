"""``python -m nlp train-call-heads``: train the call heads (``nlp.compliance.learned``).

Data (never the dev calls in ``tests/data/dev_calls*``):

* ``nlp/train_data/agent_turns/*.jsonl``: agent turns in context, labelled with the party on
  the line and the rules they break (hard negatives included);
* ``nlp/train_data/callee_turns/*.jsonl``: callee turns in context, labelled with who the
  callee is and their mood;
* ``nlp/train_data/calls_tune/*.jsonl``: whole labelled calls: their callee turns (each with
  its mood) train the mood head beside the callee turns above, and the opening and closing
  moods of the ones written as a natural sample (``"sample": "natural"``; the others were
  written to hold many openings unlike their first turn) choose how a call's turns combine
  (cross-fitted: each half of the calls is read by a head trained without it);
* ordinary agent talk as negatives for the agent labels: the agent turns of the demo
  generator's clean calls (greetings, reminders, plan offers, polite wrong-party calls), so
  the heads meet a realistic share of harmless turns. Without them a head trained on the
  violation-rich labelled turns fires on every third ordinary turn.

The party and mood heads read the default model's encoder features (the cache of
``training.heads``), a callee turn's own beside the agent turn before it; the agent heads read
the agent turn's character n-grams (``nlp.ngrams``), the party and the rules' answer. An
agent label's threshold is the one with the best F1 on out-of-fold probabilities (five seeded
folds), the negatives weighted to a 3% share of violating turns; the party and mood heads
report their accuracy on a seeded 20% tuning split of the callee turns. The card records the
figures. About two minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from nlp.compliance.learned import (
    AGENT_LABELS,
    CALL_HEADS_PATH,
    FINE_PARTIES,
    POSITIONS,
    CallHeads,
    pair_features,
    party_onehot,
    position_onehot,
)
from nlp.labels import SENTIMENTS
from training.heads import (
    _prf,
    encode,
    fit_head,
    jsonl_records,
    negative_weight,
    weighted_threshold,
)

ROOT = Path(__file__).resolve().parents[1]
AGENT_DIR = ROOT / "nlp" / "train_data" / "agent_turns"
CALLEE_DIR = ROOT / "nlp" / "train_data" / "callee_turns"
CALLS_DIR = ROOT / "nlp" / "train_data" / "calls_tune"
MOOD_WINDOWS = (1, 2, 3)
MOOD_THRESHOLDS = (None, 0.4, 0.5, 0.6, 0.7)
SEED = 17
FOLDS = 5
TURN_PREVALENCE = 0.03
TURN_PREVALENCES = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05)
"""About how many agent turns of real calls break a given rule (the prior). The labelled turns
are far richer in violations (a threshold chosen on them as they are fires too often on real
calls), so each agent label's threshold is chosen with its negatives weighted up to such a
share. Which share of :data:`TURN_PREVALENCES` is used is chosen on the labelled whole calls
(``calls_tune``): the one whose thresholds give the best call-level micro-F1 there (when two
tie, the one nearer the prior)."""


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


def train(log=print, c: float = 0.3, agent_c: float = 10.0, mood_c: float = 0.1) -> CallHeads:
    """Train the party, agent-label and mood heads; return them with their card."""
    from nlp.compliance.engine import default_engine

    agent, callee = jsonl_records(AGENT_DIR), jsonl_records(CALLEE_DIR)
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
        "mood_regularisation_c": mood_c,
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

    # the callee's mood in context: the labelled callee turns and every callee turn of the
    # labelled whole calls (read in their call), standardised like the party head's input
    calls = jsonl_records(CALLS_DIR)
    call_turns, call_of = _call_turn_records(calls)
    z_calls = (_pairs(call_turns, log) - mean) / scale if call_turns else z_callee[:0]
    moods = np.asarray([SENTIMENTS.index(r.get("mood", "neutral")) for r in callee + call_turns])
    placed = np.hstack(
        [
            np.vstack([z_callee, z_calls]),
            np.asarray([position_onehot(r.get("position", "middle")) for r in callee + call_turns]),
        ]
    )
    in_calls = np.arange(len(callee), len(placed))
    mood_rows = np.concatenate([fit, in_calls])
    mood_w, mood_b = _softmax_fit(placed[mood_rows], moods[mood_rows], mood_c)
    mood_pred = np.argmax(placed[tune] @ mood_w.T + mood_b, axis=1)
    card["mood_tune_accuracy"] = float(np.mean(mood_pred == moods[tune]))
    card["data"]["labelled_calls"] = len(calls)
    log(f"mood head: tuning accuracy {card['mood_tune_accuracy']:.3f}")
    card["mood_aggregation"] = _tune_mood_aggregation(
        calls, call_of, placed, moods, fit, len(callee), mood_c, log
    )

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
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlp.textnorm import normalize_many

    norm = normalize_many([str(r["text"]) for r in agent])
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    grams = vec.fit_transform(norm)
    # thresholds from out-of-fold probabilities (five seeded folds, each scored by a head
    # fitted on the other four); the shipped head is fitted on every turn
    fold = np.random.default_rng(SEED).permutation(len(agent)) % FOLDS
    weights, biases, oofs, ys = [], [], [], []
    for j, label in enumerate(AGENT_LABELS):
        y = np.asarray([float(label in (r.get("labels") or [])) for r in agent])
        x = hstack([grams, csr_matrix(onehot), csr_matrix(hits[:, [j]])]).tocsr()
        oof = np.zeros(len(agent))
        for k in range(FOLDS):
            w, b = fit_head(x[fold != k], y[fold != k], agent_c, balanced=False)
            oof[fold == k] = 1 / (1 + np.exp(-(x[fold == k] @ w + b)))
        w, b = fit_head(x, y, agent_c, balanced=False)  # the real share of harm
        weights.append(w)
        biases.append(b)
        oofs.append(oof)
        ys.append(y)
    heads = CallHeads(
        mean=mean,
        scale=scale,
        agent_vocab={g: int(i) for g, i in vec.vocabulary_.items()},
        agent_idf=vec.idf_.astype(np.float64),
        agent_weights=np.asarray(weights),
        agent_bias=np.asarray(biases),
        agent_thresholds=np.zeros(len(AGENT_LABELS)),
        party_weights=party_w,
        party_bias=party_b,
        party_names=tuple(names),
        mood_weights=mood_w,
        mood_bias=mood_b,
        card=card,
    )
    # the share of violating agent turns the thresholds assume: the one whose thresholds
    # find the violations of the labelled whole calls best (call-level micro-F1)
    grid = {
        p: [weighted_threshold(o, y, prevalence=p) for o, y in zip(oofs, ys, strict=True)]
        for p in TURN_PREVALENCES
    }
    scores = _call_level_scores(heads, calls, grid, engine, log)
    share = max(
        TURN_PREVALENCES, key=lambda p: (scores.get(p, 0.0), -abs(np.log(p / TURN_PREVALENCE)))
    )
    card["turn_prevalence"] = {"chosen": share, "call_micro_f1": scores}
    report = {}
    for j, label in enumerate(AGENT_LABELS):
        threshold = grid[share][j]
        figures = _weighted_figures(oofs[j] >= threshold, ys[j], share)
        report[label] = {
            "positives": int(ys[j].sum()),
            "threshold": threshold,
            "tune_heads": figures,
            "tune_rules": _prf(hits[:, j] > 0, ys[j]),
        }
        log(
            f"{label:<24} heads F1 {figures['f1']:.3f}  rules F1 "
            f"{report[label]['tune_rules']['f1']:.3f}  t={threshold}"
        )
    card["agent_report"] = report
    return replace(heads, agent_thresholds=np.asarray(grid[share], dtype=np.float64))


def _call_level_scores(
    heads: CallHeads, calls: list[dict], grid: dict[float, list[float]], engine, log
) -> dict[float, float]:
    """Call-level micro-F1 of "rule or head" over the agent labels of the labelled whole
    calls, per candidate share (its thresholds in ``grid``). The party is the labelled one."""
    from nlp.textnorm import normalize_many

    rows, owners, parties, gold = [], [], [], []
    for n, call in enumerate(calls):
        labels = call.get("labels") or {}
        party = labels.get("party") or "borrower"
        party = party if party in ("borrower", "third_party", "wrong_number") else "unknown"
        gold.append({v["rule"] for v in labels.get("violations") or []} & set(AGENT_LABELS))
        for turn in call["turns"]:
            if turn["speaker"] == "agent":
                rows.append(str(turn["text"]))
                owners.append(n)
                parties.append(party)
    if not rows:
        return {}
    third = [p in ("third_party", "wrong_number") for p in parties]
    hits = np.asarray(
        [
            [
                float(r in {e.rule for e in engine.scan_agent_turn(t, third_party_callee=o)})
                for r in AGENT_LABELS
            ]
            for t, o in zip(rows, third, strict=True)
        ]
    )
    proba = heads.agent_proba(normalize_many(rows), parties, hits)
    scores = {}
    for share, thresholds in grid.items():
        found: list[set[str]] = [set() for _ in calls]
        for row, n in enumerate(owners):
            for j, rule in enumerate(AGENT_LABELS):
                head = proba[row, j] >= thresholds[j] and (
                    rule != "third_party_disclosure" or third[row]
                )
                if hits[row, j] or head:
                    found[n].add(rule)
        tp = sum(len(f & g) for f, g in zip(found, gold, strict=True))
        fp = sum(len(f - g) for f, g in zip(found, gold, strict=True))
        fn = sum(len(g - f) for f, g in zip(found, gold, strict=True))
        scores[share] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
        log(f"violating-turn share {share:.3f}: call-level micro-F1 {scores[share]:.3f}")
    return scores


def _call_turn_records(calls: list[dict]) -> tuple[list[dict], list[int]]:
    """The callee turns of labelled whole calls as callee-turn records (the turn before as
    context, the position in the call, the turn's labelled mood), and each one's call."""
    records, call_of = [], []
    for n, call in enumerate(calls):
        turns = call["turns"]
        callee = [i for i, t in enumerate(turns) if t["speaker"] != "agent"]
        moods = (call.get("labels") or {}).get("turn_moods") or {}
        for k, i in enumerate(callee):
            if str(i) not in moods:
                continue
            position = "start" if k == 0 else "end" if k == len(callee) - 1 else "middle"
            context = (
                [{"speaker": turns[i - 1]["speaker"], "text": turns[i - 1]["text"]}] if i else []
            )
            records.append(
                {
                    "text": turns[i]["text"],
                    "context": context,
                    "mood": moods[str(i)],
                    "position": position,
                }
            )
            call_of.append(n)
    return records, call_of


def _tune_mood_aggregation(
    calls: list[dict],
    call_of: list[int],
    placed: np.ndarray,
    moods: np.ndarray,
    fit: np.ndarray,
    n_callee: int,
    c: float,
    log,
) -> dict:
    """The window and combination of callee turns (:func:`nlp.compliance.learned.window_mood`)
    that best match the labelled calls' opening and closing moods, per phase.

    Cross-fitted: the calls are split in two; each half is read by a mood head trained without
    its turns, so the choice is not made on turns the head has learned.
    """
    from nlp.compliance.learned import window_mood

    default = {"window": 1, "threshold": None}
    if not calls:
        log("no labelled calls: the call's mood is its first / last callee turn's")
        return {"start": default, "end": default, "calls": 0}
    call_of_row = np.asarray(call_of)
    half = np.arange(len(calls)) % 2
    from nlp.compliance.engine import default_engine

    engine = default_engine()
    probs: dict[tuple[int, str, bool], np.ndarray] = {}
    for h in (0, 1):
        train_rows = np.concatenate([fit, n_callee + np.flatnonzero(half[call_of_row] != h)])
        w, b = _softmax_fit(placed[train_rows], moods[train_rows], c)
        for n in np.flatnonzero(half == h):
            rows = n_callee + np.flatnonzero(call_of_row == n)
            texts = [t["text"] for t in calls[n]["turns"] if t["speaker"] != "agent"]
            keep = [k for k, t in enumerate(texts) if engine.is_substantive(t)] or list(
                range(len(texts))
            )
            for phase in ("start", "end"):
                z = placed[rows].copy()
                z[:, -len(POSITIONS) :] = position_onehot(phase)
                p = z @ w.T + b
                p = np.exp(p - p.max(axis=1, keepdims=True))
                p = p / p.sum(axis=1, keepdims=True)
                probs[(int(n), phase, False)] = p
                probs[(int(n), phase, True)] = p[keep]
    # the choice is made on the calls written as a natural sample when there are any: the
    # others were written to hold many openings and closings unlike their first / last turn
    natural = [n for n, call in enumerate(calls) if call.get("sample") == "natural"]
    chosen_on = natural or list(range(len(calls)))
    out: dict = {"calls": len(calls), "chosen_on": len(chosen_on), "cross_fitted": True}
    for phase, key in (("start", "borrower_sentiment_start"), ("end", "borrower_sentiment_end")):
        labelled = [
            n
            for n in chosen_on
            if (n, phase, False) in probs and (calls[n].get("labels") or {}).get(key) in SENTIMENTS
        ]
        candidates, grid = [], {}
        for substantive in (False, True):
            for window in MOOD_WINDOWS:
                for threshold in MOOD_THRESHOLDS:
                    hits = 0
                    for n in labelled:
                        p = probs[(n, phase, substantive)]
                        p = p[:window] if phase == "start" else p[-window:]
                        hits += int(window_mood(p, threshold) == calls[n]["labels"][key])
                    accuracy = hits / len(labelled) if labelled else 0.0
                    grid[f"{'substantive ' if substantive else ''}{window}/{threshold}"] = round(
                        accuracy, 3
                    )
                    candidates.append(
                        {
                            "window": window,
                            "threshold": threshold,
                            "substantive": substantive,
                            "accuracy": accuracy,
                        }
                    )
        # the simplest reading within one standard error of the best (fewest turns, then
        # plain averaging, then all turns): on 100 calls the best is partly luck
        top = max(c["accuracy"] for c in candidates)
        margin = float(np.sqrt(top * (1 - top) / max(len(labelled), 1)))
        best = min(
            (c for c in candidates if c["accuracy"] >= top - margin - 1e-9),
            key=lambda c: (c["window"], c["threshold"] is not None, c["substantive"]),
        )
        out[phase] = {**best, "grid": grid}
        log(
            f"{phase} mood: {best['window']} {'substantive ' if best['substantive'] else ''}"
            f"callee turns, threshold {best['threshold']}: cross-fitted accuracy "
            f"{best['accuracy']:.3f} on {len(labelled)} labelled calls"
        )
    return out


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
