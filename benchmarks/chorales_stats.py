"""How Bach-like: the statistics of chorales a trained model composes, beside the test
chorales and the Keras peer's four generated chorales (their generated part only, as ours).

    python benchmarks/chorales_stats.py MODEL_DIR [--count 20] [--out stats.json]

Seeds: the first 8 chords of test chorales 0..count-1; 56 chords each, temperature 0.8,
sampling seed 1, as one batch (the same as `seqnets chorales generate MODEL_DIR --from 0
--count 20 --stats FILE`, plus the peer's row). Prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seqnets.data.chorales import load_chorales, read_chorale
from seqnets.data.files import atomic_write
from seqnets.music import compare, generate, load_chorale_model, table

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "keras_chorales_generated"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--out")
    args = ap.parse_args()
    data = load_chorales()
    model, meta = load_chorale_model(args.model_dir)
    seeds = [c[:8] for c in data.test[:args.count]]
    ours = generate(model, seeds, 56, temperature=args.temperature, seed=1,
                    voice_ranges=meta["voice_ranges"])
    greedy = generate(model, seeds, 56, temperature=0, voice_ranges=meta["voice_ranges"])
    sets = {"test chorales (77, whole)": data.test,
            f"{meta['model']}, T={args.temperature} ({args.count})": [c[8:] for c in ours],
            f"{meta['model']}, greedy ({args.count})": [c[8:] for c in greedy]}
    peer = sorted(PEER.glob("*.csv"))
    if peer:
        sets[f"Keras peer ({len(peer)}: 2 greedy, 2 T=0.8)"] = [read_chorale(p)[8:]
                                                               for p in peer]
    rows = compare(sets, reference=data.train)
    print(table(rows))
    if args.out:
        atomic_write(args.out, (json.dumps({"model_dir": args.model_dir, "rows": rows},
                                           indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
