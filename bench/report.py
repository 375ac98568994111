"""The markdown report: tables, findings and the whole document written to ``--out``."""

from __future__ import annotations

import datetime as dt

from bench.common import (
    BACKENDS,
    DEV_BORROWER,
    DEV_CALLS,
    ROOT,
    SEED,
    SNOWNLP_TARGET,
    Sample,
    agreement,
    fmt,
    format_table,
    git_commit,
    versions,
)
from bench.e2e import E2E_RUNS, e2e_code


def throughput_table(results: dict[str, dict]) -> str:
    """Table 1+2: same texts, each backend in its own process."""
    rows = []
    for name, r in results.items():
        label = BACKENDS[name][0]
        if "error" in r:
            rows.append([label, *["—"] * 8, f"failed: {r['error']}"])
            continue
        rate = r["n"] / r["score_s"] if r["score_s"] else float("nan")
        note = "raw text" if not BACKENDS[name][1] else "normalised"
        note += "; " + _tries_note(r, "score_s")
        if "tok_s" in r:
            note += f"; tokenise {r['tok_s']:.2f}s, {r['mean_tokens']:.0f} tok/text"
        rows.append(
            [
                label,
                fmt(r["n"]),
                fmt(r["load_s"], 2),
                fmt(r["score_s"], 2),
                fmt(r.get("score_cpu_s"), 1),
                fmt(rate),
                fmt(100 * r["binary_acc"]),
                fmt(r["rss_load_mb"], 0),
                fmt(r["peak_rss_mb"], 0),
                note,
            ]
        )
    return format_table(
        [
            "backend",
            "texts",
            "load s",
            "score s",
            "score CPU s",
            "texts/s",
            "binary acc %",
            "RSS after load MB",
            "peak RSS MB",
            "notes",
        ],
        rows,
        (0, -1),
    )


def e2e_table(e2e: list[dict]) -> str:
    """Whole-process runs, with the ratio to SnowNLP's wall time."""
    snow = next((r["wall_s"] for r in e2e if r["run"] == "snownlp" and "error" not in r), None)
    rows = []
    for r in e2e:
        label = E2E_RUNS[r["run"]][0]
        if "error" in r:
            rows.append([label, "—", "—", "—", "—", "—", "—", "—", "—", f"failed: {r['error']}"])
            continue
        ratio = fmt(r["wall_s"] / snow, 2) + "×" if snow else "—"
        rows.append(
            [
                label,
                fmt(r["n"]),
                fmt(r["wall_s"], 2),
                fmt(r["startup_s"] + r["imports_s"], 2),
                fmt(r["load_s"], 2),
                fmt(r["score_s"], 2),
                fmt(r["cpu_s"], 1),
                fmt(r["peak_rss_mb"], 0),
                ratio,
                _e2e_check(r),
            ]
        )
    return format_table(
        [
            "whole process",
            "texts",
            "wall s",
            "start+imports s",
            "load s",
            "score s",
            "CPU s",
            "peak RSS MB",
            "× SnowNLP",
            "notes",
        ],
        rows,
        (0, -1),
    )


def _tries_note(r: dict, key: str) -> str:
    """``best of 3: 17.0/17.8/44.0s; others 4% CPU`` for a table's notes column."""
    tries = r.get("tries", [r[key]])
    note = "best of " + "/".join(f"{t:.3g}" for t in tries) + "s; " if len(tries) > 1 else ""
    others = r.get("others")
    return note + (f"others {100 * others:.0f}% CPU" if others is not None else "others ?")


def models_note(results: dict[str, dict]) -> list[str]:
    """Markdown lines naming what each backend loaded (the ensemble's members and weights)."""
    named = [(n, r["model"]) for n, r in results.items() if r.get("model") not in (None, n)]
    if not named:
        return []
    return ["Loaded models:", "", *(f"- `{n}` = {m}" for n, m in named), ""]


def _e2e_check(r: dict) -> str:
    return f"{_tries_note(r, 'wall_s')}; {r['positive']:,} positive"


def dev_table(results: dict[str, dict]) -> str:
    """3-class quality on the borrower dev set."""
    rows = []
    for name, r in results.items():
        d = r.get("dev")
        if d:
            rows.append(
                [
                    BACKENDS[name][0],
                    fmt(d["n"]),
                    fmt(100 * d["accuracy"]),
                    fmt(100 * d["macro_f1"]),
                    *(fmt(100 * d["f1"][k]) for k in ("negative", "neutral", "positive")),
                ]
            )
    return format_table(
        ["backend", "texts", "accuracy %", "macro-F1 %", "F1 neg", "F1 neu", "F1 pos"], rows
    )


def calls_table(results: dict[str, dict]) -> str:
    """Call-turn-length texts with the default model."""
    rows = []
    for name, r in results.items():
        c = r.get("calls")
        if c:
            rows.append(
                [
                    BACKENDS[name][0],
                    fmt(c["n"]),
                    fmt(c["mean_chars"]),
                    fmt(c.get("mean_tokens")),
                    fmt(c["seconds"], 2),
                    fmt(c["n"] / c["seconds"]),
                ]
            )
    return format_table(
        ["backend", "turns", "mean chars", "mean tokens", "score s", "turns/s"], rows
    )


def findings(results: dict[str, dict], e2e: list[dict]) -> list[str]:
    """One-line conclusions computed from the numbers (the target, int8 vs fp32, time split)."""
    ok = {r["run"]: r for r in e2e if "error" not in r}
    return [
        *_target_findings(ok),
        *_time_split_findings(results, ok),
        *_noise_findings(results, e2e),
        *_int8_findings(results),
    ]


def _target_findings(ok: dict[str, dict]) -> list[str]:
    out = []
    if "snownlp" in ok:
        for run in ("default", "default-onnx", "default+rules"):
            if run in ok:
                ratio = ok[run]["wall_s"] / ok["snownlp"]["wall_s"]
                verdict = "met" if ratio <= SNOWNLP_TARGET else "MISSED"
                out.append(
                    f"Target (≤ {SNOWNLP_TARGET}× SnowNLP, whole process): "
                    f"{E2E_RUNS[run][0]} takes {ratio:.2f}× → {verdict}."
                )
    return out


def _time_split_findings(results: dict[str, dict], ok: dict[str, dict]) -> list[str]:
    out = []
    for run in ("default", "default+rules"):
        if run in ok:
            r = ok[run]
            parts = {
                "interpreter start + imports": r["startup_s"] + r["imports_s"],
                "model load": r["load_s"],
                "scoring": r["score_s"],
                "exit": r["exit_s"],
            }
            split = ", ".join(
                f"{k} {v:.1f}s ({100 * v / r['wall_s']:.0f}%)" for k, v in parts.items()
            )
            out.append(f"{E2E_RUNS[run][0]}, whole process {r['wall_s']:.1f}s: {split}.")
    for name in ("default", "default-onnx"):
        d = results.get(name, {})
        if "tok_s" in d:
            out.append(
                f"Inside {name}'s scoring of {d['n']:,} texts ({d['score_s']:.2f}s): normalise "
                f"{d['norm_s']:.2f}s, tokenise {d['tok_s']:.2f}s, everything else (inference, "
                f"padding{', lexicon' if name == 'default' else ''}) "
                f"{d['predict_s'] - d['tok_s']:.2f}s."
            )
    return out


def _noise_findings(results: dict[str, dict], e2e: list[dict]) -> list[str]:
    noisy = [
        f"{name} {100 * r['others']:.0f}%"
        for name, r in [*results.items(), *((e["run"] + " (whole process)", e) for e in e2e)]
        if (r.get("others") or 0) > 0.10
    ]
    if not noisy:
        return []
    return [
        "Other processes used over 10% of the machine during: "
        + ", ".join(noisy)
        + ". Those timings are pessimistic; rerun on a quiet machine to confirm."
    ]


def _int8_findings(results: dict[str, dict]) -> list[str]:
    out = []
    t = results.get("default-torch", {})
    for name in ("default-onnx", "default"):
        d = results.get(name, {})
        if "binary_pred" not in d or "binary_pred" not in t:
            continue
        out.append(
            f"{name} vs fp32 torch on the reviews: binary accuracy {100 * d['binary_acc']:.1f}% "
            f"vs {100 * t['binary_acc']:.1f}%, same binary label on "
            f"{100 * agreement(d['binary_pred'], t['binary_pred']):.1f}% of texts."
        )
        if d.get("dev") and t.get("dev"):
            out.append(
                f"{name} vs fp32 torch on the dev set: macro-F1 "
                f"{100 * d['dev']['macro_f1']:.1f}% vs {100 * t['dev']['macro_f1']:.1f}%, "
                f"same 3-class label on "
                f"{100 * agreement(d['dev']['pred'], t['dev']['pred']):.1f}% of texts."
            )
    return out


NOISE_NOTE = (
    "Noise: `others N% CPU` in the notes = the share of the machine's CPU time that processes "
    "other than the benchmark used during that measurement (/proc/stat busy time minus our own "
    "getrusage); above ~10% the timings are pessimistic. `best of a/b/c` lists every try."
)


def render_report(
    *,
    command: str,
    machine: dict,
    sample: Sample,
    results: dict[str, dict],
    e2e: list[dict],
    started: dt.datetime,
    load_avg: tuple[float, float],
    notes: list[str],
) -> str:
    """The whole markdown document written to ``--out``."""
    lines = [
        *_header_lines(command, machine, sample, started, load_avg, notes),
        "",
        "## Findings",
        "",
        *(f"- {f}" for f in findings(results, e2e) or ["(nothing to compare in this run)"]),
        "",
        *_table_sections(results, e2e),
        "## Programs timed as whole processes",
        "",
        "<!-- fmt: off -->",  # the exact programs that ran: keep code formatters off them
        "",
    ]
    for run in [r["run"] for r in e2e]:
        lines += [
            f"`{run}` (texts file as argv[1]):",
            "",
            "```python",
            e2e_code(run).rstrip(),
            "```",
            "",
        ]
    lines.append("<!-- fmt: on -->")
    return "\n".join(lines).rstrip() + "\n"


def _header_lines(
    command: str,
    machine: dict,
    sample: Sample,
    started: dt.datetime,
    load_avg: tuple[float, float],
    notes: list[str],
) -> list[str]:
    """Title, provenance (date, machine, versions, command, commit) and the sample."""
    chars = sorted(len(t) for t in sample.texts)
    pos_share = sum(x == "positive" for x in sample.labels) / max(1, len(sample.labels))
    installed = ", ".join(f"{k} {v}" for k, v in versions().items())
    mem = f", {machine['mem_gb']:.0f} GiB RAM" if machine.get("mem_gb") else ""
    return [
        "# Sentiment backend benchmark",
        "",
        "Generated by `bench/models.py`; do not edit by hand, rerun the command below.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} (local), load average {load_avg[0]:.2f} before, "
        f"{load_avg[1]:.2f} after",
        f"- Machine: {machine['cores']} cores, {machine['cpu']}{mem}, Python {machine['python']}",
        f"- Versions: {installed}",
        f"- Command: `{command}` at commit {git_commit()} (plus any uncommitted edits)",
        f"- Texts: {len(sample.texts):,} from {sample.source}; seed {SEED}; "
        f"{100 * pos_share:.0f}% positive; median {chars[len(chars) // 2] if chars else 0} "
        f"chars, mean {sum(chars) / max(1, len(chars)):.0f}",
        *(f"- {n}" for n in notes),
    ]


def _table_sections(results: dict[str, dict], e2e: list[dict]) -> list[str]:
    """The four measured sections, each a heading, how to read it, and its table."""
    return [
        "## Same texts, one process per backend",
        "",
        "Load = imports + model construction inside the worker; score = normalisation (where the "
        "product does it) + prediction; score CPU s = user + sys of all its threads (less "
        "sensitive than wall time to other load on the machine); texts/s = texts / score s. "
        "Binary accuracy = argmax "
        "between P(positive) and P(negative) against the review's label. Peak RSS is the "
        "worker's maximum (getrusage), including the dev-set and call-turn runs below.",
        "",
        NOISE_NOTE,
        "",
        throughput_table(results),
        "",
        *models_note(results),
        "## Whole process: fresh `python -c`, imports and model load included",
        "",
        "Wall = spawn to exit measured by the parent; the phases come from the child's own "
        "clock marks (start+imports includes interpreter start; SnowNLP loads its models at "
        "import). CPU s = user + sys of the child: above wall means more than one core busy. "
        "With --repeat the runs are interleaved and the fastest try is shown (other load on the "
        "machine only ever slows a run down).",
        "",
        NOISE_NOTE,
        "",
        e2e_table(e2e),
        "",
        "## Borrower dev set: 3-class quality",
        "",
        f"`{DEV_BORROWER.relative_to(ROOT)}`, normalised, `probs_to_labels` (argmax of 3 classes).",
        "",
        dev_table(results),
        "",
        "## Call-turn-length texts",
        "",
        f"Borrower and agent turns of `{DEV_CALLS.relative_to(ROOT)}`, normalised, one batch.",
        "",
        calls_table(results),
        "",
    ]
