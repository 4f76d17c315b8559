"""Collecting run folders and rendering the report, on hand-written run folders."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helmholtz.analysis.results import collect, experiments, read_results, summarize
from helmholtz.errors import UsageError
from helmholtz.report.write import write_report
from helmholtz.run.layout import experiment_key
from helpers import write_history

REPO = Path(__file__).resolve().parents[1]
BITS = {5: 2_000, 25: 6_000, 100: 12_000, "lossless": 24_000}


EXAMPLES = 200
LABELS = (np.arange(EXAMPLES) % 10).astype(np.int16)


def predictions(accuracy, rng=None):
    """Test predictions right on the first `accuracy` share of the examples: the same
    examples in every run, so levels of equal accuracy do not differ at all (with `rng`:
    on a random share of them instead)."""
    right = np.arange(EXAMPLES) < round(accuracy * EXAMPLES)
    if rng is not None:
        right = rng.permutation(right)
    return np.where(right, LABELS, (LABELS + 1) % 10).astype(np.int16)


def make_run(root, level, seed, val_acc, model="all-cnns", setting=0, complete=True,
             num_epoch=None, test_at=None, subset=None, predicted=None, **settings):
    """A run folder as the trainer writes it; `settings` change the experiment's config;
    `predicted`: its predictions.npz, or the test accuracy it has (see `predictions`)."""
    folder = root / "cifar" / model / f"quality_{level}" / f"seed_{seed}"
    folder.mkdir(parents=True)
    config = dict(domain="cifar", dataset="cifar10", model=model, setting=setting, params=701386,
                  level_name="quality", level=level, seed=seed, num_epoch=num_epoch or len(val_acc),
                  batch_size=128, fixed=True, protocol="fixed", precision="float32", subset=subset,
                  optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
                  bits_per_sample=float(BITS[level]), test_levels=list(BITS),
                  bits_per_sample_at={str(k): v for k, v in BITS.items()})
    config.update(settings)
    (folder / "config.json").write_text(json.dumps(config))
    write_history(folder, val_acc, 4.0)
    if complete:
        result = dict(complete=True, test_accuracy=max(val_acc), test_accuracy_at=test_at or {})
        (folder / "result.json").write_text(json.dumps(result))
        if predicted is not None:
            pred = predictions(predicted) if np.isscalar(predicted) else predicted
            np.savez(folder / "predictions.npz", labels=LABELS, **{f"pred@{level}": pred})
    return folder


def make_tree(root, grid=True):
    """all-cnns at four levels x 2 seeds (flat down to 25, then a drop), a second model
    at 25, one unfinished run and one corrupt folder."""
    plateau = {5: 0.50, 25: 0.80, 100: 0.80, "lossless": 0.80}
    for level, acc in plateau.items():
        for seed in (0, 1):
            val = [acc - 0.3] * 2 + [acc + 0.01 * seed] * 10  # converges at epoch 3
            test_at = {"lossless": acc - 0.05, "5": acc - 0.2} if grid else None
            make_run(root, level, seed, val, num_epoch=12, test_at=test_at, predicted=acc)
    make_run(root, 25, 0, [0.7] * 12, model="cnns-dense-64", setting=1, predicted=0.7)
    make_run(root, 25, 1, [0.1, 0.2, 0.3], model="cnns-dense-64", setting=1,
             complete=False, num_epoch=12)
    corrupt = root / "cifar" / "all-cnns" / "quality_50" / "seed_0"
    corrupt.mkdir(parents=True)
    (corrupt / "config.json").write_text("{not json")


def test_collect_reads_complete_incomplete_and_reports_corrupt_folders(tmp_path):
    make_tree(tmp_path)
    results, problems, warnings = collect(tmp_path)
    assert warnings == []
    assert len(results) == 10
    assert len(problems) == 1 and "quality_50" in problems[0] and "config.json" in problems[0]
    unfinished = results[~results["complete"]]
    assert len(unfinished) == 1
    row = unfinished.iloc[0]
    assert row["epochs_done"] == 3 and row["best10_accuracy"] == pytest.approx(0.2)
    assert row["paper_accuracy"] == pytest.approx(0.6 / 4)  # the original counted the header
    assert pd.isna(row["test_accuracy"])
    assert list(results["level"][:4]) == [5, 5, 25, 25]  # levels ordered, not by folder name
    done = results[results["complete"] & (results["model"] == "all-cnns")]
    assert (done["paper_convergence_index0"] == 2).all() and (done["convergence_epoch"] == 3).all()
    assert results["experiment"].nunique() == 1
    assert (done["seconds_per_epoch"] == 4.0).all()


def test_collect_reports_malformed_history(tmp_path):
    folder = make_run(tmp_path, 25, 0, [0.5, 0.6])
    (folder / "history.csv").write_text("epoch,val_accuracy\n1,abc\n")
    results, problems, _ = collect(tmp_path)
    assert results.empty and "history.csv" in problems[0]


def test_collect_of_missing_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        collect(tmp_path / "nope")
    with pytest.raises(UsageError, match="no run folders"):
        collect(tmp_path)


def test_collect_cli_writes_csv_and_prints_summary(tmp_path):
    make_tree(tmp_path)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "collect.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = read_results(tmp_path / "results.csv")
    assert len(results) == 10
    # cnns-dense-64 at 25: one complete seed averaged, the unfinished one listed apart
    line = next(l for l in done.stdout.splitlines() if "cnns-dense-64" in l and "70.00" in l)
    assert re.search(r"\b25\s+1\b", line)
    assert "Runs not averaged in" in done.stdout and "unfinished" in done.stdout
    assert "Unreadable run folders" in done.stdout and "quality_50" in done.stdout
    # the paired tests under the summary: all-cnns flat down to 25, then 30 points down at 5
    paired = done.stdout.split("Paired tests on the test predictions")[1]
    line = next(l for l in paired.splitlines() if l.strip().startswith("all-cnns"))
    assert re.search(r"all-cnns\s+lossless\s+non-inferior\s+25\s", line) and "5: -30.0" in line


def test_collect_cli_on_missing_folder_exits_2_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "collect.py"), str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert not (tmp_path / "nope").exists()


def _linked_images(report):
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text())


def test_report_renders_tables_and_valid_plots(tmp_path):
    make_tree(tmp_path / "logs")
    report = write_report(tmp_path / "logs", tmp_path / "out", n_boot=300)
    text = report.read_text()
    images = _linked_images(report)
    assert {Path(p).name.split("_cifar")[0] for p in images} == {
        "answer", "accuracy_vs_level", "accuracy_vs_bits", "convergence_vs_level",
        "learning_curves", "confusion", "grid"}
    for link in images:
        with Image.open(report.parent / link) as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert "| all-cnns | 25 | 2 | 6,000 | 80.50 ± 0.71 | 2.0 ± 0.0 | 80.50 ± 0.71 |" in text
    assert "| cnns-dense-64 | 25 | 1 | 6,000 | 70.00 | 0.0 | 70.00 |" in text
    assert "| test bits/sample | 2,000 | 6,000 | 12,000 | 24,000 |" in text  # grid header row
    assert "| 25 | 60.00 | 80.50 | - | 75.00 |" in text  # own level from test_accuracy
    assert "Shortened run" in text and "12 epochs (the paper: 200)" in text
    assert "cifar/cnns-dense-64/quality_25/seed_1 | 3 of 12 | 30.00 | unfinished |" in text
    assert "quality_50" in text.split("## Unreadable run folders")[1]
    back = read_results(report.parent / "results.csv")
    assert len(back) == 10
    # the table read back gives the same summary and experiments as the runs collected
    results = collect(tmp_path / "logs")[0]
    assert summarize(back).equals(summarize(results))
    assert experiments(back).equals(experiments(results))


def test_report_states_each_claim_and_its_verdict(tmp_path):
    # all-cnns: 25, 100 and lossless right on the same 80% of the test examples, 5 on 50%:
    # non-inferior down to 25 (18,000 bits below lossless), a loss of 30 points at 5
    make_tree(tmp_path / "logs")
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=300).read_text()
    claims = text.split("### The paper's claims on this data")[1].split("### Rate-accuracy")[0]
    assert "all-cnns: 2 seed(s) x 200 test examples per level" in claims
    assert "chance (the commonest class) is 10.0%" in claims and "margin of 2.0 points" in claims
    assert ("**Supported down to q\\* = 25**: every level from 100 down to 25 is non-inferior to "
            "lossless within 2.0 points") in claims
    assert ("The next level, 5, is inferior beyond the 2.0-point margin (difference -30.0 "
            "points") in claims
    assert "**Significant loss** at the lowest level, 5: -30.0 points against lossless" in claims
    assert "At q\\* = 25: area +0.0 points" in claims and "slower at 5" in claims
    # the curve crosses 78% between 25 (80%, 6,000 bits) and 5 (50%, 2,000) at 1/15 of the
    # way in log bits: 6,000 x 3^(-1/15) = 5,576 bits, 18,424 below b(R)
    assert re.search(r"\*\*18,424 \(90% interval 18,\d{3} to 18,\d{3}\) total bits per sample\*\* "
                     r"of b\(R\) = 24,000", claims)
    assert "Shown removable by the tests (b(R) - b(q\\*), q\\* = 25): 18,000." in claims
    assert ("| cnns-dense-64 | - | - | - | - | - | - | - | - | not estimable | one level only: "
            "nothing to compare with |") in claims
    by_level = claims.split("#### Tests by level: all-cnns")[1]
    assert "| 25 | - | 6,000 | 80.00 (" in by_level and "| non-inferior | non-inferior |" in by_level
    assert "| 5 | - | 2,000 | 50.00 (" in by_level
    assert "| inferior beyond the 2.0-point margin | not shown |" in by_level
    tests = pd.read_csv(tmp_path / "out" / "tests.csv", dtype={"q_star": str})
    assert set(tests.loc[tests["model"] == "all-cnns", "q_star"]) == {"25"}
    glance = text.split("## Verdicts at a glance")[1].split("\n## ")[0]
    row, = [line for line in glance.splitlines() if "| all-cnns |" in line]
    assert "| lossless | non-inferior | 25 |" in row and "| 18,424 (90% interval 18," in row
    assert "| 5: -30.0 (" in row
    assert "| cnns-dense-64 |" in glance and "not estimable" in glance


def test_report_says_when_the_data_identify_no_cutoff(tmp_path):
    logs = tmp_path / "logs"
    for level in (5, 25, "lossless"):
        for seed in (0, 1):
            make_run(logs, level, seed, [0.8] * 12, predicted=0.8)
    text = write_report(logs, tmp_path / "out", n_boot=300).read_text()
    # every level passes: q* is the lowest level tried, a bound, and so are the noise bits
    assert ("**Supported down to q\\* = 5**: every level from 25 down to 5 is non-inferior to "
            "lossless within 2.0 points") in text
    assert "Every compressed level passed, so the cutoff lies at or below the lowest level" in text
    assert "at least" in text.split("(d) The bits removed")[1].split("\n")[0]
    assert "**No significant loss** at the lowest level, 5: +0.0 points" in text
    assert "no difference is claimed" in text


def test_report_says_when_the_margin_is_within_the_noise(tmp_path):
    # 200 test examples, each run right on a random 80%: differences are known to about
    # 4 points, twice the margin
    rng = np.random.default_rng(0)
    for level in (5, "lossless"):
        for seed in (0, 1, 2):
            make_run(tmp_path / "logs", level, seed, [0.8] * 12, predicted=predictions(0.8, rng))
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=300).read_text()
    assert "**The margin is within the noise.**" in text
    assert "a level truly equal to the reference usually fails the test" in text


def test_report_skips_missing_plots_and_says_so(tmp_path):
    make_run(tmp_path / "logs", 25, 0, [0.1 + 0.02 * i for i in range(12)], num_epoch=200)
    make_run(tmp_path / "logs", "lossless", 0, [0.1 + 0.02 * i for i in range(12)], num_epoch=200)
    report = write_report(tmp_path / "logs", tmp_path / "out")
    text = report.read_text()
    assert "_No plot of convergence vs level: no run converged._" in text
    assert "no run was tested at other levels" in text
    assert "Shortened run" not in text
    assert "**Not estimable**: no seed has predictions at every level" in text
    assert "no predictions.npz (a run of older code)" in text
    assert "_No run has predictions.npz (runs of older code)._" in text
    for link in _linked_images(report):
        assert (report.parent / link).exists()


@pytest.mark.parametrize("margin", ["-1", "1.5", "x"])
def test_report_cli_rejects_a_bad_margin(tmp_path, margin):
    make_run(tmp_path / "logs", 25, 0, [0.5] * 3)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "report.py"), str(tmp_path / "logs"),
                           "--out", str(tmp_path / "out"), "--margin", margin],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "--margin" in done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


# --- experiments: only runs of the same settings are seeds of each other -----------------------

ORIGINAL = dict(fixed=False, protocol="original")
HIGH_LR = dict(optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})


def test_runs_of_other_experiments_are_summarised_and_reported_apart(tmp_path):
    logs = tmp_path / "logs"
    for seed in (0, 1):
        make_run(logs / "a", 25, seed, [0.80] * 12)
        make_run(logs / "b", 25, seed, [0.50] * 12, **ORIGINAL)
        make_run(logs / "c", 25, seed, [0.20] * 12, **HIGH_LR)
        make_run(logs / "a", "lossless", seed, [0.80] * 12)
    results, problems, warnings = collect(logs)
    assert problems == [] and warnings == [] and results["experiment"].nunique() == 3
    at_25 = summarize(results).set_index("experiment")
    assert list(at_25.loc[at_25["level"] == 25, "n"]) == [2, 2, 2]  # not one level of 6 "seeds"
    assert sorted(at_25.loc[at_25["level"] == 25, "paper_accuracy_mean"]) == pytest.approx([0.2, 0.5, 0.8])

    text = write_report(logs, tmp_path / "out").read_text()
    sections = re.findall(r"^## (cifar / cifar10, experiment .*)$", text, flags=re.M)
    assert len(sections) == 3
    keys = {name: experiment_key(json.loads((logs / name / "cifar/all-cnns/quality_25/seed_0/config.json")
                                            .read_text())) for name in "abc"}
    assert f"experiment {keys['b']} (fixed=False, optimizer.learning_rate=0.01, protocol=original)" in text
    assert f"experiment {keys['c']} (fixed=True, optimizer.learning_rate=0.1, protocol=fixed)" in text
    what_was_run = text.split("## What was run")[1].split("\n## ")[0]
    assert what_was_run.count("| 2 of 2 |") == 2 and "| 4 of 4 |" in what_was_run
    # plot files of experiments that share a domain and dataset carry the key
    assert (tmp_path / "out" / f"accuracy_vs_level_cifar_cifar10_{keys['a']}.png").exists()


def test_the_main_experiment_points_to_where_the_other_models_ran(tmp_path):
    # as in the study: the first model's level sweep, and the other models in a shorter experiment
    logs = tmp_path / "logs"
    for seed in (0, 1):
        for level in (5, "lossless"):
            make_run(logs / "main", level, seed, [0.80] * 12, predicted=0.8)
            for setting, model in enumerate(("cnns-dense-64", "all-cnnsx2"), 1):
                make_run(logs / "controls", level, seed, [0.60] * 2, model=model, setting=setting,
                         predicted=0.6)
    text = write_report(logs, tmp_path / "out").read_text()
    across = [line for line in text.splitlines() if line.startswith("- **(e) Across architectures.**")]
    main, = [line for line in across if "No other model was run in this experiment" in line]
    assert "Other models ran on this data in cifar / cifar10, experiment" in main
    assert "(num_epoch=2): see its section." in main
    # the shorter experiment tests its own models against each other, with no pointer
    assert sum("The same tests for the other models" in line for line in across) == 1
    assert sum("Other models ran" in line for line in across) == 1


def test_a_seed_run_twice_in_one_experiment_keeps_the_newest_and_says_so(tmp_path):
    logs = tmp_path / "logs"
    old = make_run(logs / "first", 25, 0, [0.40] * 12)
    new = make_run(logs / "second", 25, 0, [0.60] * 12)
    make_run(logs / "second", 25, 1, [0.70] * 12)
    for path in old.iterdir():  # the first copy finished a day earlier
        os.utime(path, (path.stat().st_mtime - 86400,) * 2)
    results, _, warnings = collect(logs)
    assert len(warnings) == 1
    assert "seed 0 was run 2 times" in warnings[0] and f"kept the newest, {new}" in warnings[0]
    assert str(old) in warnings[0]
    [row] = summarize(results).itertuples()
    assert row.n == 2 and row.seeds == "0 1" and row.paper_accuracy_mean == pytest.approx(0.65)

    text = write_report(logs, tmp_path / "out").read_text()
    assert "## Warnings" in text and "seed 0 was run 2 times" in text
    apart = text.split("## Runs not averaged in")[1]
    left_out = f"first/cifar/all-cnns/quality_25/seed_0 | 12 of 12 | 40.00 | duplicate of seed 0 in {new}"
    assert left_out in apart


def test_runs_with_non_finite_numbers_are_left_out_with_a_warning(tmp_path):
    logs = tmp_path / "logs"
    make_run(logs, 25, 0, [0.6] * 12)
    diverged = make_run(logs, 25, 1, [0.6] * 12, **HIGH_LR)
    make_run(logs, 25, 2, [0.6] * 12)
    history = (diverged / "history.csv").read_text().splitlines()
    history[4] = "4,nan,0.1,nan,0.1,0.1,4.0"  # loss went to NaN at epoch 4
    (diverged / "history.csv").write_text("\n".join(history) + "\n")
    results, problems, warnings = collect(logs)
    assert problems == []
    assert warnings == [f"{diverged}: left out of every average: non-finite loss, val_loss in "
                        "history.csv (epoch 4)"]
    [row] = summarize(results).itertuples()
    assert row.n == 2 and row.seeds == "0 2"


def test_collect_cli_warns_one_line_per_case(tmp_path):
    make_run(tmp_path / "a", 25, 0, [0.4] * 12)
    make_run(tmp_path / "b", 25, 0, [0.6] * 12)
    bad = make_run(tmp_path / "c", 25, 1, [0.6] * 12)
    (bad / "result.json").write_text('{"complete": true, "test_accuracy": NaN}')
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "collect.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("warning: ") for line in lines)
    assert "non-finite test_accuracy in result.json" in done.stderr
    assert "seed 0 was run 2 times" in done.stderr


def test_report_cli_on_an_out_that_is_a_file_is_one_line(tmp_path):
    make_run(tmp_path / "logs", 25, 0, [0.5] * 3)
    (tmp_path / "out").write_text("mine")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "report.py"), str(tmp_path / "logs"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is a file" in done.stderr
    assert (tmp_path / "out").read_text() == "mine"


def test_report_shows_a_precision_contrast_the_baseline_and_the_example_figures(tmp_path):
    root, out = tmp_path / "runs", tmp_path / "report"
    rng = np.random.default_rng(3)
    for seed in (0, 1, 2):
        make_run(root, "lossless", seed, [0.5, 0.8], predicted=0.8)
        make_run(root / "bf16", "lossless", seed, [0.5, 0.8], precision="mixed_bfloat16",
                 predicted=predictions(0.4, rng))
    (out / "baseline").mkdir(parents=True)
    (out / "baseline" / "quality_lossless.json").write_text(json.dumps(dict(
        name="logistic regression", level="lossless", accuracy=0.61, test_size=200,
        train_size=800, classes=[str(c) for c in range(10)], confusion=[])))
    Image.new("RGB", (8, 8)).save(out / "examples_cifar.png")
    text = write_report(root, out, n_boot=200).read_text()
    contrast = text[text.index("## Experiments that differ in one setting"):]
    row = next(line for line in contrast.splitlines() if line.startswith("| precision |"))
    # 80% against 40% on the same 200 examples and seeds: a difference the report calls one
    assert "| float32 | mixed_bfloat16 | all-cnns | lossless | 3 x 200 | 80.0 | 40.0 |" in row
    assert row.rstrip().endswith("| differs |")
    assert "## Baseline" in text and "logistic regression" in text and "61.0" in text
    assert "![examples_cifar.png](examples_cifar.png)" in text
    assert (out / "results_long.csv").exists()


def test_a_report_names_its_runs_folder_relative_to_where_it_was_written(tmp_path, monkeypatch):
    # a committed report must not carry the absolute folder of the machine that wrote it
    make_tree(tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=100).read_text()
    intro = text.split("## What was run")[0]
    assert "Collected from `logs`:" in intro and str(tmp_path) not in intro


def test_the_first_screen_answers_the_question_and_the_originals_numbers_are_an_appendix(tmp_path):
    make_tree(tmp_path / "logs")
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=300, tost=True).read_text()
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[0] == "The answer, per data set" and sections[-1] == "Appendix: what the original code printed"
    answer = text.split("## The answer, per data set")[1].split("\n## ")[0]
    assert "![test accuracy vs bits, cifar / cifar10](answer_cifar_cifar10.png)" in answer
    assert ("**all-cnns** (2 seeds x 200 test examples in 200 groups, margin 2 points): no loss "
            "beyond the margin down to q\\* = 25; lowest level 5: -30.0 points") in answer
    assert "inferior beyond the 2.0-point margin" in answer
    # one accuracy: the original's paper accuracy (its header-as-zero quirk under 10 epochs)
    # and convergence index appear in the appendix only
    body, appendix = text.split("## Appendix: what the original code printed")
    assert "paper acc." not in body and "| paper acc. % |" in appendix
    assert "rate-accuracy tables and plots use the test accuracy (best checkpoint)" in body
    # --tost adds the equivalence test to the table by level
    by_level = body.split("#### Tests by level: all-cnns")[1].split("\n\n")[1]
    assert "equivalent within ±2 (TOST)" in by_level.splitlines()[0]
    assert by_level.splitlines()[3].endswith("| yes |") and by_level.splitlines()[-1].endswith("| no |")
