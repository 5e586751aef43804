"""``bipdask demo``: a synthetic delivery (kept and reused) → one run → the headline table,
beside the effects the generator planted (:class:`DemoResult`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.evaluate import ProgressFn
from flows.run import RunResult, run_evaluation

DEMO_MARKER = "demo.json"
TRUTH_KEYS = {
    # label → key path in truth.json (bipdask.synth): population and this delivery's sample DiD
    "population DiD, intervention": ("population", "did_share"),
    "population DiD, last 3 months": ("population", "did_share_last3m"),
    "sample DiD, intervention": ("realised", "sample_share", "did_share"),
    "sample DiD, last 3 months": ("realised", "sample_share", "did_share_last3m"),
}


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What ``bipdask demo`` did: where the synthetic input and the output are, and the run."""

    input_dir: Path
    output_url: str
    run: RunResult
    generated: bool
    truth: dict = field(default_factory=dict)

    def describe(self) -> str:
        made = "generated" if self.generated else "reused"
        lines = [f"synthetic delivery ({made}): {self.input_dir}", "", self.run.describe()]
        if self.truth:
            lines.append("")
            lines.append("truth planted by the generator (truth.json):")
            lines += [f"  {k}: {100 * v:+.1f}pp" for k, v in self.truth.items()]
        lines.append(f"output: {self.output_url}")
        return "\n".join(lines)


def run_demo(folder: str | Path = "bipdask-demo", scale: float = 1.0, seed: int = 42, workers: int = 2,
             debug: bool = False, progress: ProgressFn | None = None) -> DemoResult:
    """Synthetic delivery → evaluation → headline table (``bipdask demo``).

    The delivery goes to ``folder/input`` (kept and reused when it was made with the same scale
    and seed), the run to ``folder/output``.
    """
    from bipdask.synth import generate

    folder = Path(folder)
    input_dir, output = folder / "input", folder / "output"
    marker = folder / DEMO_MARKER
    wanted = {"scale": float(scale), "seed": int(seed)}
    generated = False
    if not (input_dir.is_dir() and marker.is_file() and json.loads(marker.read_text()) == wanted):
        if progress is not None:
            progress("synthetic delivery", 0, 1)
        generate(input_dir, scale=scale, seed=seed, workers=workers)
        if progress is not None:
            progress("synthetic delivery", 1, 1)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(wanted) + "\n")
        generated = True
    result = run_evaluation(input_dir=input_dir, output_url=str(output), workers=workers, debug=debug,
                            progress=progress)
    return DemoResult(input_dir, str(output.resolve()), result, generated, truth_share_did(input_dir))


def truth_share_did(input_dir: str | Path) -> dict[str, float]:
    """The Table 6 effects planted by the generator (``truth.json``, read defensively).

    Returns label → effect (fraction) for the keys of :data:`TRUTH_KEYS` that are present
    and numeric; ``{}`` when there is no truth file (a real delivery).
    """
    try:
        truth = json.loads((Path(input_dir) / "truth.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, float] = {}
    for label, path in TRUTH_KEYS.items():
        node: Any = truth
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            found[label] = float(node)
    return found
