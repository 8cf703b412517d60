"""The ``initlab`` command: parse arguments, call the library, print or write files.

Every command has ``--help`` with an example, ``--json`` where a machine would read the output,
and exits with status 2 and a one-line error on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

EXAMPLES = {
    "tour": """examples:
  initlab tour                              quick studies, ledger, initlab-tour/report.html
  initlab tour --size full --out tour-full  the sizes a reader would publish (minutes)""",
    "study": """examples:
  initlab study dls-initialization
  initlab study perceptron-eta --size quick --verbose   every table and the evidence
  initlab study perceptron-eta --size quick --out runs/ --json""",
    "claims": """examples:
  initlab claims                one line per claim: the verdict and the answer with its number
  initlab claims --verbose      the claims in full, with their evidence
  initlab claims --verbose --from initlab-tour  what a tour saved, not run again
  initlab claims --size full    the sizes a reader would publish (minutes)
  initlab claims --json""",
    "report": """examples:
  initlab report initlab-tour                rebuild initlab-tour/report.html from its JSON
  initlab report runs.sqlite --x init --y hidden   the sweep report: runs-report.html""",
    "check": """examples:
  initlab check --init zeros                      why the course's zero start cannot learn
  initlab check --hidden 64,64,64 --activation tanh --init "normal(std=0.01)"
  initlab check model.py:make_model --input-shape 64,3,32,32 --json
  initlab check gpt.py:build --input-shape 4,128 --input-dtype long --input-range 0,50257
exit status: 0 healthy, 1 not healthy (so it can gate a training script), 2 bad input,
3 a crash (in the model's own code, or in initlab)""",
    "train": """examples:
  initlab train                                   the course's circles experiment, He start
  initlab train --init zeros --init "normal(std=10)" --init he_normal --out runs/
  initlab train --dataset moons --hidden 16,16 --activation tanh --init "orthogonal(gain=1)"
  initlab train --data points.csv --hidden 8 --json""",
    "inits": """examples:
  initlab inits
  initlab inits --json""",
    "sweep": """examples:
  initlab sweep examples/course.toml                  3 starts x 3 activations x 20 seeds
  initlab sweep grid.toml --store runs.sqlite --json  rerun: skips what the store holds
  initlab sweep grid.toml --scheduler tcp://10.0.0.5:8786   on a Dask cluster
a sweep killed at any point resumes where it stopped when run again with the same store""",
    "runs": """examples:
  initlab runs
  initlab runs --store runs.sqlite --json""",
    "gain": """examples:
  initlab gain tanh
  initlab gain "leaky_relu(slope=0.2)"
  initlab gain gelu --json""",
}


# Exit statuses: 0 done (or a healthy check), 1 an unhealthy check, 2 bad input, 3 an internal
# failure (a bug in initlab or in the user's model code), 130 interrupted.
EXIT_UNHEALTHY = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
ISSUES_URL = "https://github.com/initlab/initlab/issues"


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2
        raise UsageError(message)


def _hidden(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("none", "()"):  # said explicitly: no hidden layer (logistic regression)
        return ()
    if not text:
        raise argparse.ArgumentTypeError(
            "must be positive integers separated by commas, such as 10,5 (or 'none' for no "
            "hidden layer). Got ''."
        )
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, such as 10,5. Got {text!r}."
        ) from None
    bad = [s for s in sizes if s < 1]
    if bad:
        raise argparse.ArgumentTypeError(
            f"sizes must be positive integers. Got {bad[0]} in {text!r}."
        )
    return sizes


_SEED = {"integer": True, "low": 0, "high": 2**32 - 1}
# Every number an option takes, by its destination: the flag and the rule it must meet. Options
# arrive as text and are checked here, in one place, before any work (initlab._validation).
_NUMBERS: dict[str, tuple[str, dict[str, Any]]] = {
    "n_samples": ("--n-samples", {"integer": True, "low": 2}),
    "noise": ("--noise", {"low": 0}),
    "data_seed": ("--data-seed", _SEED),
    "test_samples": ("--test-samples", {"integer": True, "low": 0}),
    "test_seed": ("--test-seed", _SEED),
    "test_size": ("--test-size", {"low": 0, "high": 1, "high_open": True}),
    "learning_rate": ("--learning-rate", {"low": 0, "low_open": True}),
    "iterations": ("--iterations", {"integer": True, "low": 1}),
    "batch_size": ("--batch-size", {"integer": True, "low": 1}),
    "seed": ("--seed", _SEED),
    "print_every": ("--print-every", {"integer": True, "low": 1}),
    "atol": ("--atol", {"low": 0}),
    "chunk_size": ("--chunk-size", {"integer": True, "low": 1}),
}
# (command, destination) -> (flag, what the path is for): checked before any work, so that a
# command that cannot write its result, or read its input, stops before computing anything.
_PATHS: dict[tuple[str, str], tuple[str, str]] = {
    ("train", "out"): ("--out", "dir"),
    ("study", "out"): ("--out", "dir"),
    ("tour", "out"): ("--out", "dir"),
    ("report", "out"): ("--out", "file"),
    ("runs", "export"): ("--export", "table"),
    ("train", "data"): ("--data", "input"),
    ("check", "data"): ("--data", "input"),
    ("sweep", "spec"): ("SPEC.toml", "input"),
    ("sweep", "store"): ("--store", "file"),
}


def _check_args(args: argparse.Namespace) -> None:
    """Check every option of the command against its rule (numbers, paths), before any work."""
    from ._validation import (
        check_input_file,
        check_output_dir,
        check_output_file,
        number_from_text,
    )

    owner = f"initlab {args.command}"
    for dest, (flag, rule) in _NUMBERS.items():
        value = getattr(args, dest, None)
        if value is not None:
            setattr(args, dest, number_from_text(owner, flag, value, **rule))
    if getattr(args, "test_samples", None) == 1:  # a generated test set needs 2 points
        raise UsageError(
            f"The '--test-samples' parameter of {owner} must be 0 (no test set) or an int >= 2. "
            "Got '1' instead."
        )
    for (command, dest), (flag, kind) in _PATHS.items():
        value = getattr(args, dest, None)
        if command != args.command or value is None:
            continue
        if kind == "dir":
            check_output_dir(owner, flag, value)
        elif kind == "file":
            check_output_file(owner, flag, value)
        elif kind == "table":
            check_output_file(owner, flag, value, suffixes=(".csv", ".parquet"))
        else:
            check_input_file(owner, flag, value)
    if getattr(args, "max_memory", None) is not None:
        from ._resources import parse_size

        args.max_memory = parse_size(args.max_memory, "--max-memory")


def _max_memory_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="the most memory the run may plan to use, such as 64G (default: what this machine "
        "has available; initlab refuses, before starting, a run estimated to need more)",
    )


def _model_options(p: argparse.ArgumentParser, datasets: list[str], activations: list[str]) -> None:
    """The data, network and training options that ``train`` and ``check`` share."""
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="circles",
        choices=datasets,
        help="named dataset (default: circles)",
    )
    data.add_argument(
        "--data",
        metavar="CSV",
        help="a CSV file instead: feature columns, then the label column; a header row is skipped",
    )
    data.add_argument(
        "--n-samples",
        default=300,
        help="training samples of a generated dataset (default: 300)",
    )
    data.add_argument("--noise", default=0.05, help="noise (default: 0.05)")
    data.add_argument(
        "--data-seed",
        default=1,
        help="random_state of the training data (default: 1, the course's)",
    )
    data.add_argument(
        "--test-samples",
        default=100,
        help="test samples drawn afresh for a generated dataset (default: 100; 0: none)",
    )
    data.add_argument(
        "--test-seed",
        default=2,
        help="random_state of the test data (default: 2, the course's)",
    )
    data.add_argument(
        "--test-size",
        default=0.25,
        help="fraction held out for a fixed dataset or a CSV (default: 0.25; 0: none)",
    )
    net = p.add_argument_group("network")
    net.add_argument(
        "--hidden",
        type=_hidden,
        default=(10, 5),
        help="hidden layer sizes, comma-separated (default: 10,5)",
    )
    net.add_argument(
        "--activation",
        default="relu",
        help=f"hidden activation: {', '.join(activations)} (default: relu)",
    )
    net.add_argument(
        "--init",
        action="append",
        metavar="SPEC",
        help="weight initializer spec, repeat to compare (default: auto; see `initlab inits`)",
    )
    net.add_argument(
        "--bias-init",
        default="auto",
        metavar="SPEC",
        help="bias initializer spec (default: auto, the scheme's own rule)",
    )
    opt = p.add_argument_group("training")
    opt.add_argument(
        "--solver", default="gd", choices=["gd", "sgd", "adam"], help="optimizer (default: gd)"
    )
    opt.add_argument(
        "--learning-rate",
        default=0.01,
        help="learning rate > 0 (default: 0.01)",
    )
    opt.add_argument(
        "--iterations",
        default=15000,
        help="iterations, or epochs with --batch-size (default: 15000)",
    )
    opt.add_argument(
        "--batch-size",
        default=None,
        help="mini-batch size (default: full batch)",
    )
    opt.add_argument(
        "--seed", default=3, help="random_state of the start (default: 3, the course's)"
    )
    opt.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    _max_memory_option(opt)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .activations import list_activations
    from .datasets import list_datasets

    parser = _Parser(
        prog="initlab",
        description="Show, measure and fix how a neural network's starting weights decide "
        "whether it learns.",
    )
    parser.add_argument("--version", action="version", version=f"initlab {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an internal error",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    t = command("train", "Train an MLP from one or more starts and compare them.")
    _model_options(t, list_datasets(), list_activations())
    out = t.add_argument_group("output")
    out.add_argument(
        "--print-every",
        default=1000,
        help="report the cost every this many iterations (default: 1000)",
    )
    out.add_argument(
        "--out", metavar="DIR", help="write cost curves, decision boundaries and results.json here"
    )
    out.add_argument("--json", action="store_true", help="print the results as JSON")
    t.set_defaults(func=cmd_train)

    c = command("check", "Diagnose a network's start before training it.")
    c.add_argument(
        "model",
        nargs="?",
        metavar="FILE.py:FACTORY",
        help="a PyTorch model: a Python file and a function in it that returns the nn.Module; "
        "without it, the initlab network the options below describe",
    )
    c.add_argument(
        "--input-shape",
        metavar="N,C,...",
        help="shape of the example input for a PyTorch model, batch first, such as 64,3,32,32 "
        "(not needed when FACTORY returns (model, example_input))",
    )
    c.add_argument(
        "--input-dtype",
        default="float32",
        choices=TORCH_INPUT_DTYPES,
        help="dtype of the example input (default: float32); long or int for token ids",
    )
    c.add_argument(
        "--input-range",
        metavar="LOW,HIGH",
        help="draw the example input uniformly in [LOW, HIGH) (integers for long and int, such "
        "as 0,50257 for GPT-2's token ids; without it floats are standard normal)",
    )
    _model_options(c, list_datasets(), list_activations())
    c.add_argument("--atol", default=0.0, help="tolerance for equal units (default 0)")
    c.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    c.set_defaults(func=cmd_check)

    from .studies import list_studies

    st = command("study", "Run one study: tables, figures and the claims it tests.")
    st.add_argument(
        "name", choices=list_studies(), metavar="NAME", help=f"one of: {', '.join(list_studies())}"
    )
    _study_options(st)
    st.set_defaults(func=cmd_study)

    cl = command("claims", "Test the common claims about starting weights (the quick studies).")
    _study_options(cl, out=False, default_size="quick")
    cl.add_argument(
        "--from",
        dest="from_folder",
        metavar="DIR",
        help="read the claims from the results a tour or a study saved in DIR instead of running "
        "the studies again (--size and --seed are then those of the saved run)",
    )
    cl.set_defaults(func=cmd_claims)

    tr = command("tour", "Run every study and the claims ledger; write an HTML report.")
    _study_options(tr, default_size="quick", default_out="initlab-tour")
    tr.set_defaults(func=cmd_tour)

    rp = command(
        "report",
        "Rebuild the HTML report from a folder of saved results, or write the report of a "
        "sweep store.",
    )
    rp.add_argument(
        "folder",
        metavar="FOLDER|STORE",
        help="a folder written by `initlab tour` or `initlab study --out`, or a sweep store "
        "(an SQLite file written by `initlab sweep`)",
    )
    rp.add_argument(
        "--out",
        metavar="FILE",
        help="the HTML file (default: FOLDER/report.html, or STORE-report.html next to the store)",
    )
    rp.add_argument("--sweep", metavar="NAME", help="a store: report this sweep only")
    rp.add_argument("--x", metavar="AXIS", help="a store: the heatmaps' x axis (a grid key)")
    rp.add_argument("--y", metavar="AXIS", help="a store: the heatmaps' y axis (a grid key)")
    rp.set_defaults(func=cmd_report)

    i = command("inits", "List the initializer catalogue.")
    i.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    i.set_defaults(func=cmd_inits)

    g = command("gain", "The recommended gain of an activation.")
    g.add_argument(
        "activation", help="activation name or spec, such as tanh or 'leaky_relu(slope=0.2)'"
    )
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.set_defaults(func=cmd_gain)

    _playground_parser(command)

    sw = command("sweep", "Run a grid of configurations (a TOML spec) into a store.")
    sw.add_argument("spec", metavar="SPEC.toml", help="the sweep spec: [grid] and [record]")
    sw.add_argument(
        "--store",
        metavar="PATH",
        default="initlab-runs.sqlite",
        help="the SQLite store (default: initlab-runs.sqlite)",
    )
    sw.add_argument(
        "--chunk-size",
        metavar="N",
        help="networks trained as one stack (default: up to 256, fewer if memory asks)",
    )
    sw.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the chunks on a Dask distributed cluster (needs initlab[dask]); only this "
        "process writes the store",
    )
    sw.add_argument(
        "--backend",
        choices=("auto", "numba", "numpy"),
        default="auto",
        help="the engine's backend: compiled code where Numba can run it (auto, the default), "
        "always (numba), or the NumPy reference path (numpy)",
    )
    _max_memory_option(sw)
    sw.add_argument("--json", action="store_true", help="print the summary as JSON")
    sw.set_defaults(func=cmd_sweep)

    ru = command("runs", "List the sweeps of a store and their progress.")
    ru.add_argument(
        "--store",
        metavar="PATH",
        default="initlab-runs.sqlite",
        help="the SQLite store (default: initlab-runs.sqlite)",
    )
    ru.add_argument("--json", action="store_true", help="print the list as JSON")
    ru.add_argument(
        "--export",
        metavar="FILE",
        help="write the stored runs to FILE.csv or FILE.parquet (one row per configuration)",
    )
    ru.add_argument("--sweep", metavar="NAME", help="with --export: this sweep only")
    ru.set_defaults(func=cmd_runs)
    return parser


# --- train ------------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    from .datasets import train_test

    try:
        return train_test(
            args.dataset,
            data=args.data,
            n_samples=args.n_samples,
            noise=args.noise,
            data_seed=args.data_seed,
            test_samples=args.test_samples,
            test_seed=args.test_seed,
            test_size=args.test_size,
        )
    except ValueError as exc:
        about_file = args.data and str(exc).startswith(repr(str(args.data)))
        raise UsageError(f"--data {exc}" if about_file else str(exc)) from None


def _model(args, init: str) -> Any:
    from .models import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=args.hidden,
        activation=args.activation,
        init=init,
        bias_init=args.bias_init,
        solver=args.solver,
        learning_rate=args.learning_rate,
        max_iter=args.iterations,
        batch_size=args.batch_size,
        random_state=args.seed,
        dtype=args.dtype,
    )
    clf._check_params()  # bad specs fail before any work, as one line
    return clf


def _fit(args, clf: Any, X, y, progress) -> Any:
    task = progress.add_task(f"init={clf.init}", total=args.iterations) if progress else None
    step = max(1, args.iterations // 200)

    def callback(it: int, loss: np.ndarray) -> None:
        if (it + 1) % step == 0 or it + 1 == args.iterations:
            progress.update(task, completed=it + 1)

    import warnings

    from .models import DivergedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergedWarning)  # reported in the table instead
        clf.fit(X, y, callback=callback if progress else None)
    if progress:
        progress.update(task, completed=args.iterations)
    return clf


def _score(clf: Any, X: Any, y: Any) -> float | None:
    """Accuracy, or None for a model whose start overflowed (diverged at iteration 0): it has
    no finite prediction for some samples, and says so in the table instead."""
    try:
        return float(clf.score(X, y))
    except ValueError:
        if clf.diverged_:
            return None
        raise


def _number(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


def cmd_train(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    inits = args.init or ["auto"]
    X, y, Xt, yt = _load(args)
    err = Console(stderr=True)
    progress = None
    err = Console(stderr=True)
    if not args.json and err.is_terminal:  # no live display in a log: errors stay one line
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
    models = [_model(args, init) for init in inits]
    if progress:
        with progress:
            models = [_fit(args, clf, X, y, progress) for clf in models]
    else:
        models = [_fit(args, clf, X, y, None) for clf in models]

    results = []
    for init, clf in zip(inits, models):
        curve = clf.loss_curve_
        checkpoints = list(range(0, len(curve), args.print_every))
        results.append(
            {
                "init": init,
                "init_used": clf.init_used_,
                "cost": {str(i): _number(curve[i]) for i in checkpoints},
                "final_cost": _number(curve[-1]),
                "train_accuracy": _score(clf, X, y),
                "test_accuracy": _score(clf, Xt, yt) if Xt is not None else None,
                "diverged": bool(clf.diverged_),
                "diverged_at": clf.history_["diverged_at"],
                "iterations": int(clf.n_iter_),
            }
        )
    summary = {
        "dataset": args.data or args.dataset,
        "n_train": len(X),
        "n_test": 0 if Xt is None else len(Xt),
        "hidden": list(args.hidden),
        "activation": args.activation,
        "learning_rate": args.learning_rate,
        "solver": args.solver,
        "seed": args.seed,
        "results": results,
    }
    if args.out:
        summary["files"] = _write_outputs(Path(args.out), inits, models, X, y, Xt, yt, summary)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0

    out = Console()
    out.print(
        f"[bold]{summary['dataset']}[/]: {len(X)} training and {summary['n_test']} test "
        f"samples; layers {[X.shape[1], *args.hidden, 'out']}, {args.activation}, "
        f"{args.solver} with learning rate {args.learning_rate:g}"
    )
    costs = Table(title="Cost (cross-entropy) during training", title_justify="left")
    costs.add_column("iteration", justify="right")
    for r in results:
        costs.add_column(r["init"], justify="right", no_wrap=True)
    for i in results[0]["cost"]:
        costs.add_row(i, *(_fmt(r["cost"].get(i)) for r in results))
    out.print(costs)
    show_used = any(r["init"] != r["init_used"] for r in results)
    table = Table(title="Results", title_justify="left")
    table.add_column("init", no_wrap=True)
    if show_used:
        table.add_column("scheme used", no_wrap=True)
    for col in ("final cost", "train acc", "test acc"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        test = "-" if r["test_accuracy"] is None else f"{r['test_accuracy']:.4f}"
        train = "-" if r["train_accuracy"] is None else f"{r['train_accuracy']:.4f}"
        # A diverged run's last cost is NaN: when it diverged says more.
        cost = f"diverged at {r['diverged_at']}" if r["diverged"] else _fmt(r["final_cost"])
        row = [r["init"]] + ([str(r["init_used"])] if show_used else [])
        row += [cost, train, test]
        table.add_row(*row)
    out.print(table)
    for f in summary.get("files", []):
        out.print(f"wrote {f}")
    return 0


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    return x if isinstance(x, str) else f"{x:.6f}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "init"


def _write_outputs(folder: Path, inits, models, X, y, Xt, yt, summary) -> list[str]:
    import warnings

    from . import plots

    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # A curve that is NaN from its start (a start that overflowed) makes NumPy's nanmin
        # warn inside plots.loss_curves; the table already says what happened to it.
        warnings.simplefilter("ignore", RuntimeWarning)
        fig = plots.loss_curves({i: m.loss_curve_ for i, m in zip(inits, models)})
    files = [plots.save(fig, folder / "cost.png")]
    if X.shape[1] == 2:
        for init, r, clf in zip(inits, summary["results"], models):
            if r["train_accuracy"] is None:
                continue  # a start that overflowed has no boundary to draw
            title = f"init={init}: train {r['train_accuracy']:.3f}"
            if r["test_accuracy"] is not None:
                title += f", test {r['test_accuracy']:.3f}"
            try:
                fig = plots.decision_boundary(clf, X, y, X_test=Xt, y_test=yt, title=title)
            except ValueError:  # weights grown so large the plane overflows away from the data
                continue
            files.append(plots.save(fig, folder / f"boundary_{_slug(init)}.png"))
    results = folder / "results.json"
    names = [str(f) for f in files] + [str(results)]
    results.write_text(json.dumps({**summary, "files": names}, indent=2))
    return names


# --- studies, claims, tour, report -----------------------------------------------------------


def _study_options(
    p: argparse.ArgumentParser,
    *,
    out: bool = True,
    default_size: str = "full",
    default_out: str | None = None,
) -> None:
    p.add_argument(
        "--size",
        choices=["quick", "full"],
        default=default_size,
        help=f"quick: seconds; full: what a reader would publish (default: {default_size})",
    )
    p.add_argument("--seed", default=0, help="random_state of the studies (default: 0)")
    if out:
        p.add_argument(
            "--out",
            metavar="DIR",
            default=default_out,
            help="write figures (PNG), results (JSON) and report.html here"
            + (f" (default: {default_out})" if default_out else ""),
        )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print the claims in full with their evidence (and a study's tables)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _run_studies(names: list[str], size: str, seed: int, show_progress: bool) -> list[Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .studies import run_study

    if not show_progress:
        return [run_study(n, size=size, random_state=seed) for n in names]
    results = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} studies"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("studies", total=len(names))
        for n in names:
            progress.update(task, description=f"study {n}")
            results.append(run_study(n, size=size, random_state=seed))
            progress.advance(task)
    return results


def _ledger_table(claims: list[Any], verbose: bool = False) -> Any:
    """The ledger for the terminal: per claim, the verdict and the short claim on one line, the
    answer wrapped under it (``verbose``: the claim in full and the evidence too)."""
    from rich.console import Group

    from .studies import Ledger
    from .studies._result import claim_renderables

    return Group(
        f"[bold]The claims ledger[/]: {len(claims)} claims, {Ledger(claims).counts_text()}",
        *claim_renderables(claims, verbose=verbose),
    )


def _course_table(dls: Any) -> Any:
    """The course's published numbers beside the run's, narrow enough for 80 columns."""
    from rich import box
    from rich.table import Table

    frame = dls.tables["Accuracy and published numbers"]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("init", no_wrap=True)
    for col in ("train accuracy", "published", "test accuracy", "published"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in frame.to_dict(orient="records"):
        table.add_row(
            str(row["init"]),
            *(
                f"{row[k]:.4g}"
                for k in ("train accuracy", "published train", "test accuracy", "published test")
            ),
        )
    return table


def _save(results: list[Any], folder: Path) -> Path:
    from .report import ledger, write_report

    folder.mkdir(parents=True, exist_ok=True)
    for r in results:
        r.save(folder)
    (folder / "claims.json").write_text(
        json.dumps([vars(c) for c in ledger(results)], indent=2, default=str)
    )
    return write_report(results, folder / "report.html", figures_folder=folder)


def cmd_study(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .studies._result import study_renderables

    result = _run_studies([args.name], args.size, args.seed, not args.json)[0]
    report = _save([result], Path(args.out)) if args.out else None
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    console = Console()
    for part in study_renderables(result, verbose=args.verbose):
        console.print(part)
    if report is not None:
        console.print(f"Figures, tables and the full evidence: {report}", soft_wrap=True)
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .report import ledger
    from .studies import list_studies

    if args.from_folder is not None:
        from .report import load_results

        folder = Path(args.from_folder)
        if not folder.is_dir():
            raise UsageError(f"--from: no such folder {args.from_folder!r}.")
        results = load_results(folder)
    else:
        results = _run_studies(list_studies(), args.size, args.seed, not args.json)
    claims = ledger(results)
    if args.json:
        print(json.dumps([vars(c) for c in claims], indent=2, default=str))
    else:
        Console().print(_ledger_table(claims, verbose=args.verbose))
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .report import ledger
    from .studies import list_studies

    results = _run_studies(list_studies(), args.size, args.seed, not args.json)
    report = _save(results, Path(args.out))
    if args.json:
        print(
            json.dumps({"report": str(report), "results": [r.to_dict() for r in results]}, indent=2)
        )
        return 0
    console = Console()
    dls = next((r for r in results if r.name == "dls-initialization"), None)
    if dls is not None:
        console.print(dls.title, style="bold")
        console.print(_course_table(dls))
        console.print()
    console.print(_ledger_table(ledger(results), verbose=args.verbose))
    seconds = sum(r.seconds for r in results)
    console.print()
    if not args.verbose:
        console.print(f"{len(results)} studies in {seconds:.0f} s. The evidence of each claim:")
        # soft_wrap: a command stays whole on its line, so it can be copied.
        console.print(f"  initlab claims --verbose --from {shlex.quote(args.out)}", soft_wrap=True)
    # soft_wrap: the path stays whole on its line, whatever the width, so it can be copied.
    console.print(f"Figures, tables and the full evidence: {report}", soft_wrap=True)
    return 0


def _is_sqlite(path: Path) -> bool:
    if path.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def cmd_report(args: argparse.Namespace) -> int:
    from ._validation import check_output_file
    from .report import write_report, write_sweep_report

    folder = Path(args.folder)
    if folder.is_file() and _is_sqlite(folder):
        out = Path(args.out) if args.out else folder.with_name(f"{folder.stem}-report.html")
        if not args.out:  # a given --out is checked with the other options; the default here
            check_output_file("initlab report", "--out", out)
        path = write_sweep_report(folder, out, sweep=args.sweep, x=args.x, y=args.y)
        print(f"wrote {path}")
        return 0
    if folder.is_file():
        raise UsageError(f"{args.folder!r} is neither a folder nor a sweep store (SQLite).")
    if args.sweep or args.x or args.y:
        raise UsageError("--sweep, --x and --y go with a sweep store (an SQLite file).")
    if not folder.is_dir():
        raise UsageError(f"no such folder {args.folder!r}.")
    out = Path(args.out) if args.out else folder / "report.html"
    if not args.out:
        check_output_file("initlab report", "--out", out)
    path = write_report(folder, out, figures_folder=folder)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


# --- check ------------------------------------------------------------------------------------


TORCH_INPUT_DTYPES = ("float32", "float64", "float16", "bfloat16", "long", "int")


class _ModelCodeError(Exception):
    """The user's model code crashed (on import, in the factory or in forward): exit status 3."""


def _shape(text: str | None) -> tuple[int, ...]:
    if not text:
        raise UsageError(
            "--input-shape is needed for a PyTorch model, such as --input-shape 64,10 (or let "
            "FACTORY return (model, example_input))."
        )
    try:
        shape = tuple(int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        shape = ()
    if not shape or any(v < 1 for v in shape):
        raise UsageError(
            f"--input-shape must be positive integers separated by commas, batch first, such as "
            f"64,3,32,32. Got {text!r}."
        )
    return shape


def _input_range(text: str | None, integer: bool) -> tuple[float, float] | None:
    if text is None:
        if integer:
            raise UsageError(
                "--input-dtype long and int need --input-range LOW,HIGH for the token ids or "
                "classes, such as --input-range 0,50257."
            )
        return None
    parts = text.replace(" ", "").split(",")
    try:
        lo, hi = (int(v) if integer else float(v) for v in parts)
    except ValueError:
        lo = hi = None
    if len(parts) != 2 or lo is None or not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        kind = "integers" if integer else "numbers"
        raise UsageError(
            f"--input-range must be two finite {kind} LOW,HIGH with LOW < HIGH, such as 0,50257. "
            f"Got {text!r}."
        )
    return lo, hi


def _example_input(args: argparse.Namespace, torch: Any) -> Any:
    """The example batch the command line draws: --input-shape, --input-dtype, --input-range,
    from a generator seeded with --seed; refused before allocating when it cannot fit."""
    shape = _shape(args.input_shape)
    dtype = {
        "float32": torch.float32,
        "float64": torch.float64,
        "float16": torch.float16,
        "bfloat16": torch.bfloat16,
        "long": torch.int64,
        "int": torch.int32,
    }[args.input_dtype]
    integer = not dtype.is_floating_point
    bounds = _input_range(args.input_range, integer)
    from ._resources import format_size, memory_limit

    need = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    limit, source = memory_limit()
    # The forward pass needs several times its input: refuse an input that alone would take
    # more than half of the memory allowed, before allocating it.
    if need > limit / 2:
        raise UsageError(
            f"--input-shape {args.input_shape} needs {format_size(need)} for the input alone "
            f"(and the forward pass several times that); {source.format(format_size(limit))}. "
            "Use a smaller batch."
        )
    g = torch.Generator().manual_seed(args.seed)
    if integer:
        return torch.randint(int(bounds[0]), int(bounds[1]), shape, generator=g, dtype=dtype)
    if bounds is not None:
        lo, hi = bounds
        return (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def _where(exc: BaseException, path: str) -> str:
    """The innermost line of the user's file in a traceback, as file:line."""
    import traceback

    name = Path(path).resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == name]
    return f" (at {Path(path).name}:{frames[-1].lineno})" if frames else ""


def _load_factory(target: str) -> Any:
    import importlib.util

    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"the model must be given as FILE.py:FACTORY. Got {target!r}.")
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"no such file {path!r} (the model is given as FILE.py:FACTORY).")
    spec = importlib.util.spec_from_file_location(f"_initlab_check_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # a script's sys.exit() at import time: not a module to import
        raise UsageError(
            f"{path!r} called sys.exit({exc.code!r}) while being imported; put the script part "
            "under if __name__ == '__main__': so that FACTORY can be imported"
        ) from None
    except Exception as exc:  # the user's file crashed: its exception on one line
        raise _ModelCodeError(
            f"the model's code crashed: {path!r} raised {type(exc).__name__} while being "
            f"imported: {_first_line(exc)}{_where(exc, path)}"
        ) from None
    factory = getattr(module, name, None)
    if not callable(factory):
        found = [k for k, v in vars(module).items() if callable(v) and not k.startswith("_")]
        raise UsageError(
            f"{path!r} has no function {name!r}. Callables in it: {', '.join(found) or 'none'}."
        )
    return factory


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _required_inputs(module: Any) -> list[str]:
    import inspect

    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def _check_torch(args: argparse.Namespace) -> list[Any]:
    factory = _load_factory(args.model)
    try:
        import torch

        from .torch import check
        from .torch._probe import ModelError
    except ImportError:
        raise UsageError(
            "checking a PyTorch model needs PyTorch: pip install 'initlab[torch]'"
        ) from None
    try:
        made = factory()
    except SystemExit as exc:
        raise UsageError(
            f"{args.model} called sys.exit({exc.code!r}) instead of returning a model"
        ) from None
    except Exception as exc:
        raise _ModelCodeError(
            f"the model's code crashed: {args.model} raised {type(exc).__name__}: "
            f"{_first_line(exc)}{_where(exc, args.model.rpartition(':')[0])}"
        ) from None
    example = None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module):
        made, example = made
    if not isinstance(made, torch.nn.Module):
        raise UsageError(
            f"{args.model} must return a torch.nn.Module, or (module, example_input). "
            f"Got {type(made).__name__}."
        )
    if example is not None and args.input_shape:
        raise UsageError(
            f"{args.model} returns its own example input: drop --input-shape (or return the "
            "model alone)."
        )
    if example is None:
        required = _required_inputs(made)
        if len(required) > 1:
            raise UsageError(
                f"{type(made).__name__}.forward takes {len(required)} inputs "
                f"({', '.join(required)}); the command line feeds one: let {args.model} return "
                "(model, example_input) with a tuple of them."
            )
        example = _example_input(args, torch)
    try:
        return [check(made, example, atol=args.atol)]
    except ModelError as exc:
        raise _ModelCodeError(f"the model's code crashed: {exc}") from None
    except ValueError as exc:
        what = f"--input-shape {args.input_shape}" if args.input_shape else "the example input"
        raise UsageError(f"{what} does not fit the model: {_first_line(exc)}") from None


def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .diagnostics import diagnose

    if args.model:
        try:
            diagnoses = _check_torch(args)
        except _ModelCodeError as exc:  # the user's code, not initlab's: said so, status 3
            print(f"initlab: error: {exc}", file=sys.stderr)
            return EXIT_INTERNAL
    else:
        given = [
            flag
            for flag, value in (
                ("--input-shape", args.input_shape),
                ("--input-dtype", args.input_dtype != "float32"),
                ("--input-range", args.input_range),
            )
            if value
        ]
        if given:
            raise UsageError(
                f"{' and '.join(given)} {'goes' if len(given) == 1 else 'go'} with a PyTorch "
                "model (FILE.py:FACTORY)."
            )
        X, y, _, _ = _load(args)
        models = [_model(args, init) for init in (args.init or ["auto"])]
        diagnoses = [diagnose(clf, X, y, atol=args.atol) for clf in models]
    if args.json:
        data = [d.to_dict() for d in diagnoses]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        console = Console()
        for d in diagnoses:
            console.print(d)
    return 0 if all(d.healthy for d in diagnoses) else 1


# --- inits and gain ---------------------------------------------------------------------------


def cmd_inits(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .initializers import list_initializers

    rows = list_initializers()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    table = Table(
        title="initlab initializers (use any name or alias as a spec: "
        "normal(std=0.1), he_normal(mode=fan_out))",
        title_justify="left",
    )
    for col in ("name", "aliases", "parameters", "formula", "reference"):
        table.add_column(col, overflow="fold")
    for r in rows:
        params = ", ".join(f"{k}={v!r}" for k, v in r["parameters"].items())
        table.add_row(r["name"], ", ".join(r["aliases"]), params, r["formula"], r["reference"])
    Console().print(table)
    return 0


def cmd_gain(args: argparse.Namespace) -> int:
    from .activations import get_activation
    from .initializers import calculate_gain, variance_preserving_gain

    try:
        act = get_activation(args.activation)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    gain = calculate_gain(args.activation)
    vp = variance_preserving_gain(args.activation)
    result = {"activation": act.spec, "gain": gain, "variance_preserving_gain": vp}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"calculate_gain({act.spec!r}) = {gain:.10g}")
    print(f"variance-preserving gain 1/sqrt(E[phi(z)^2]), z ~ N(0, 1): {vp:.10g}")
    print(f"so a He-style start for {act.spec} is std = {vp:.4g} / sqrt(fan_in)")
    return 0


# --- playground -------------------------------------------------------------------------------

PLAYGROUND_EXAMPLES = """examples:
  initlab playground                 open the page (port 8765, or a free one)
  initlab playground --no-browser    print the URL only
  initlab playground --port 9000 --host 127.0.0.1
the server answers only requests addressed to this host from its own page"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"--port must be an integer in [0, 65535] (0: any free port). Got {text!r}."
        )
    return value


def _playground_parser(command: Any) -> None:
    pg = command("playground", "Watch starts decide, side by side, in the browser (offline).")
    pg.epilog = PLAYGROUND_EXAMPLES
    pg.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port to listen on (default: 8765, or a free port when it is taken; 0: any free)",
    )
    pg.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only); the server refuses "
        "requests addressed to any other host",
    )
    pg.add_argument("--no-browser", action="store_true", help="do not open a browser")
    pg.set_defaults(func=cmd_playground)


def cmd_playground(args: argparse.Namespace) -> int:
    import ipaddress

    try:
        if ipaddress.ip_address(args.host).is_unspecified:
            raise UsageError(
                f"--host must be one address of this machine (the server checks that requests "
                f"are addressed to it); got {args.host!r}, which means every address."
            )
    except ValueError:
        pass  # a host name: bind() says if it cannot be bound
    from .playground.server import serve

    try:
        serve(args.host, args.port, open_browser=not args.no_browser, announce=print)
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully and re-raised Ctrl-C: the conventional status.
        print("initlab playground: stopped", file=sys.stderr)
        return 130
    # Stopped by a signal that did not raise (SIGTERM, or SIGINT where it is ignored).
    print("initlab playground: stopped", file=sys.stderr)
    return 0


# --- sweep ------------------------------------------------------------------------------------


def _dask_client(address: str) -> Any:
    from .sweep.dask import connect

    try:
        return connect(address, name="--scheduler")
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'initlab[dask]'") from None


def cmd_sweep(args: argparse.Namespace) -> int:

    from rich.console import Console
    from rich.table import Table

    from .sweep import load_spec
    from .sweep.summary import summarize

    if not Path(args.spec).is_file():
        raise UsageError(f"no such sweep spec {args.spec!r}.")
    spec = load_spec(args.spec)
    executor = _dask_client(args.scheduler) if args.scheduler else None
    try:
        df = _run_sweep(args, spec, executor)
    finally:  # a failed sweep closes its client too, or it lingers reconnecting
        if executor is not None:
            executor.close()
    rows = summarize(df, list(spec.axes))
    if args.json:
        print(
            json.dumps(
                {"sweep": spec.name, "store": args.store, "configs": len(df), "summary": rows},
                indent=2,
            )
        )
        return 0
    out = Console()
    target = spec.record.target_accuracy
    table = Table(
        title=f"Sweep {spec.name!r}: {len(df)} configurations in {args.store}",
        title_justify="left",
    )
    measures = ("configs", "median_final_loss", "median_train_accuracy", "reached_target")
    axis_keys = [k for k in rows[0] if k not in (*measures, "diverged")] if rows else []
    for k in axis_keys:
        table.add_column(k, no_wrap=True)
    table.caption = (
        f"loss: final loss, acc: train accuracy (medians over seeds); reached: share of runs "
        f"whose train accuracy reached {target:g}; diverged: share that diverged"
    )
    table.caption_justify = "left"
    for col in ("runs", "loss", "acc", "reached", "diverged"):
        table.add_column(col, justify="right")
    for r in rows:
        loss, acc = r["median_final_loss"], r["median_train_accuracy"]
        table.add_row(
            *(str(r[k]) for k in axis_keys),
            str(r["configs"]),
            f"{loss:.4g}" if isinstance(loss, float) else str(loss),
            f"{acc:.3f}" if isinstance(acc, float) else str(acc),
            f"{r['reached_target']:.0%}",
            f"{r['diverged']:.0%}",
        )
    out.print(table)
    return 0


def _run_sweep(args: argparse.Namespace, spec: Any, executor: Any) -> Any:
    """Run the sweep, with a progress bar on a terminal; return its table."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .sweep import sweep

    progress = None
    state = {"task": None, "iterations": 0, "t0": time.perf_counter()}

    def report(done: int, total: int, results: list[dict[str, Any]]) -> None:
        if state["task"] is None:
            # Shown from the first report on, once every check has passed: a refused sweep
            # prints its one line and nothing else.
            progress.start()
            state["task"] = progress.add_task(spec.name, total=total, completed=done, rate="")
            return
        state["iterations"] += sum(r["config"]["iterations"] for r in results)
        rate = state["iterations"] / max(time.perf_counter() - state["t0"], 1e-9)
        progress.update(state["task"], completed=done, rate=f"{rate:,.0f} model-it/s")

    err = Console(stderr=True)
    if not args.json and err.is_terminal:  # no live display in a log: errors stay one line
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} configurations"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        try:
            df = sweep(
                spec,
                store=args.store,
                chunk_size=args.chunk_size,
                progress=report,
                executor=executor,
                backend=args.backend,
            )
        finally:
            if state["task"] is not None:
                progress.stop()
    else:
        df = sweep(
            spec,
            store=args.store,
            chunk_size=args.chunk_size,
            executor=executor,
            backend=args.backend,
        )
    return df


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .sweep import Store

    if not Path(args.store).is_file():
        raise UsageError(f"no such store {args.store!r}.")
    store = Store(args.store)  # read-only: runs never writes to a store
    if args.export:
        try:
            path = store.export(args.export, sweep=args.sweep)
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        print(f"wrote {path}")
        return 0
    if args.sweep:
        raise UsageError("--sweep goes with --export.")
    sweeps = store.sweeps()
    if args.json:
        print(json.dumps({"store": args.store, "sweeps": sweeps}, indent=2))
        return 0
    table = Table(title=f"Sweeps in {args.store}", title_justify="left")
    for col in ("sweep", "id", "created (UTC)", "done", "total", "progress"):
        left = col in ("sweep", "id", "created (UTC)")
        table.add_column(col, justify="left" if left else "right")
    for s in sweeps:
        share = s["done"] / s["total"] if s["total"] else 1.0
        table.add_row(
            s["name"],
            s["id"][:8],
            s["created"][:19].replace("T", " "),  # UTC, to the second
            str(s["done"]),
            str(s["total"]),
            f"{share:.0%}",
        )
    Console().print(table)
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a sweep releases its claims on the way out."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``initlab`` console script.

    Exit statuses: 0 done (or a healthy ``check``); 1 an unhealthy ``check``; 2 bad input or a
    place initlab cannot use (one line naming the option, the value and what is allowed: a
    number out of range, a file that cannot be read or written, a store that is not initlab's,
    is corrupt or read-only, a full disk, a run too big for this machine); 3 an unexpected
    failure (one line naming it, the traceback only with ``--debug``), so that a script can tell
    a crash from an unhealthy ``check``; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM),
    141 when the reader of the output went away (a closed pipe). Nothing is left half-written:
    a sweep stored what it committed and resumes when run again.
    """
    console = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # accepted anywhere on the line, before or after the command
    argv = [a for a in argv if a != "--debug"]
    if console:
        import signal

        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        _check_args(args)
        from ._resources import max_memory

        with max_memory(getattr(args, "max_memory", None)):
            return args.func(args)
    except UsageError as exc:
        print(f"initlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # the library's messages name the parameter and what is allowed
        print(f"initlab: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("initlab: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("initlab: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # The reader closed the pipe (`initlab inits | head`): stop quietly, as `cat` does.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):  # rich's own answer to a closed pipe
            return 141
        raise
    except OSError as exc:  # the file system refused: a path, a permission, a full disk
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"initlab: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from .sweep.dask import ClusterError

        if isinstance(exc, ClusterError):  # the cluster's failure, said in full already
            print(f"initlab: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_INTERNAL
        if debug:
            import traceback

            traceback.print_exc()
        what = _one_line(exc)
        print(
            f"initlab: internal error: {type(exc).__name__}{': ' + what if what else ''} "
            f"(rerun with --debug for the traceback; please report it at {ISSUES_URL})",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message: errors are one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
