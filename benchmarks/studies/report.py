"""Assemble docs/results.md from the studies' sections: each study module
(`benchmarks.studies.STUDIES`) writes its own section and figures; this
module only puts them in order under the page's preamble, with each
section's provenance, and stores the results next to the page."""

import os

from benchmarks.studies import STUDIES
from vidzoo.training import run_dir
from vidzoo.training.run_dir import read_json

RUNS_FILE = "runs.json"


def data_dir(out):
    """Where the page keeps each study's results and run record (committed with
    it), so the page can be rewritten without the work directory."""
    return os.path.join(os.path.dirname(os.path.abspath(out)), "results", "data")


def write_json(path, value):
    """Atomic JSON with the page data's indent (1)."""
    run_dir.write_json(path, value, indent=1)


def load_study(bench, out, name):
    """Study `name`'s results: the work directory's, else the page's stored copy."""
    results = read_json(bench.path("results", f"study_{name}.json"))
    if results is None:
        results = read_json(os.path.join(data_dir(out), f"study_{name}.json"))
    return results


def load_runs(out, runs):
    """The page's stored run records, updated by the work directory's `runs`."""
    return dict(read_json(os.path.join(data_dir(out), RUNS_FILE)) or {}, **runs)


def kept_sections(out):
    """{heading: body} of the sections on the current page, kept for studies
    whose results are in neither the work directory nor the page's data."""
    if not os.path.exists(out):
        return {}
    with open(out) as handle:
        text = handle.read()
    sections = {}
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        sections[heading.strip()] = body.strip("\n")
    return sections


def compute_seconds(value):
    """Sum of the `seconds` every cached result records (nested dicts)."""
    if not isinstance(value, dict):
        return 0.0
    own = value.get("seconds", 0.0) if isinstance(value.get("seconds"), (int, float)) else 0.0
    return own + sum(compute_seconds(v) for k, v in value.items() if k != "seconds")


def write(bench, out, runs):
    """Write `out` (docs/results.md) and its figures from every finished study,
    and store each study's results and run record (`runs`: study -> command,
    date, machine) in data_dir(out). A study with no results anywhere keeps
    its section of the current page as it is."""
    figures = os.path.join(os.path.dirname(os.path.abspath(out)), "results")
    os.makedirs(data_dir(out), exist_ok=True)
    runs = load_runs(out, runs)
    kept = kept_sections(out)
    parts = _preamble(bench.settings)
    missing = []
    for name, study in STUDIES.items():
        title = study.TITLE
        results = load_study(bench, out, name)
        if results is not None:
            write_json(os.path.join(data_dir(out), f"study_{name}.json"), results)
            parts += [f"## {title}", "", _provenance(runs.get(name, {}), results), "",
                      study.section(results, figures), ""]
        elif title in kept:
            parts += [f"## {title}", "", kept[title], ""]
        else:
            missing.append(name)
    if missing:
        parts += ["## Not yet run", "", "Studies without results in the work directory: "
                  + ", ".join(missing) + ".", ""]
    write_json(os.path.join(data_dir(out), RUNS_FILE), runs)
    with open(out, "w") as handle:
        handle.write("\n".join(parts))
    print(f"wrote {out}")


def _provenance(run, results):
    """The line under a section's heading: date, machine, command and compute."""
    return (f"Measured {run.get('date', 'unrecorded')} on "
            f"{run.get('machine', 'an unrecorded machine')}, no GPU, with "
            f"`{run.get('command', 'an unrecorded command')}`; compute "
            f"{compute_seconds(results) / 60:.1f} min.")


def _preamble(s):
    """The page's title and the settings every study shares."""
    return [
        "# Reproducing the papers' claims at small scale",
        "",
        "Each section names the date, the machine and the command (run from the "
        "repository root) that produced it; rerunning a command resumes from the cached "
        "results in its work directory and rewrites this page. Each study's results are "
        "also stored in `docs/results/data/`, so `python -m benchmarks.reproduce "
        "--report_only` rewrites the page without its work directory; a rerun of one "
        "study leaves the other sections as they are.",
        "",
        f"Data: the embedded synthetic dataset (`vidzoo.tf_data.synthetic`), 4 classes "
        f"(a glyph moving up/down/left/right, with inserted black, still and distractor "
        f"chunks), {4 * s.train_per_class} training and {4 * s.val_per_class} validation "
        f"videos of 32 frames (64 for SFC) at 64x64, H.264; the default `easy` preset "
        "everywhere except section 2b (`hard`, described there). 3D CNNs see "
        f"{s.frames}-frame clips at stride {s.stride}, {s.crop_size}x{s.crop_size} crops, "
        f"{'random flips' if s.flip else 'no flips (a mirrored move_left is a move_right)'}; "
        f"SGD with momentum 0.9, lr {s.lr}, cosine schedule, batch {s.batch_size}, "
        f"{s.epochs} epochs from scratch or {s.finetune_epochs} when fine-tuning. "
        "Top-1 is video-level accuracy on the validation videos; GFLOPs are multiply-adds "
        "(the papers' convention), per clip from each clip's own B' for adaptive models. "
        "Columns marked 'mean ± sd (seeds)' average training runs with seeds 0, 1, ... on "
        "the same data (the count in brackets); every other figure is from the seed-0 run. "
        "Batch-1 latency is the mean time of one forward pass over the centre clip of each "
        "validation video, one clip per pass, the graph traced beforehand (before "
        "2026-11-22 the evaluation's timing included tracing, which inflated MTNet's "
        "figures up to 7x). Until 2026-11-22 every study also trained with random "
        "horizontal flips, which gave half the left/right clips the wrong label and capped "
        "top-1 near 0.75; all figures below are from runs without them. Times and speeds "
        "compare within a section (one machine, one run), not across sections measured "
        "on different machines.",
        "",
    ]
