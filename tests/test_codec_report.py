"""The report's sections across codecs and against known sensor noise, on hand-written
run folders: a codec without lossless runs is tested against the shared reference, and
the noise section sets the estimate beside the injected bits."""
import json
import re

import numpy as np

from helmholtz.report.write import write_report
from helpers import write_history

EXAMPLES = 400
LABELS = (np.arange(EXAMPLES) % 10).astype(np.int16)


def make_run(root, tag, level, bits, accuracy, codec=None, noise=0.0, injected=None):
    folder = root / "cifar" / "all-cnns" / tag / "seed_0"
    folder.mkdir(parents=True)
    config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, params=701386,
                  level_name="quality", level=level, seed=0, num_epoch=12, batch_size=128,
                  fixed=True, protocol="fixed", precision="float32",
                  bits_per_sample=float(bits), payload_bits_per_sample=float(bits) * 0.9)
    if codec:
        config["codec"] = {"name": codec, "library": "test", "version": "1"}
    if noise:
        config.update(sensor_noise=noise, sensor_noise_bits=injected)
    (folder / "config.json").write_text(json.dumps(config))
    write_history(folder, [accuracy] * 12, 1.0)
    (folder / "result.json").write_text(json.dumps(dict(complete=True, test_accuracy=accuracy)))
    right = np.arange(EXAMPLES) < round(accuracy * EXAMPLES)
    pred = np.where(right, LABELS, (LABELS + 1) % 10).astype(np.int16)
    np.savez(folder / "predictions.npz", labels=LABELS, **{f"pred@{level}": pred})


def make_tree(root):
    # JPEG without noise: q5 falls, q25 holds; so does WebP, with fewer bits.
    for level, bits, acc in (("lossless", 24_000, 0.8), (5, 2_000, 0.5), (25, 6_000, 0.8)):
        make_run(root, f"quality_{level}", level, bits, acc)
    for level, bits, acc in ((5, 1_500, 0.5), (25, 4_000, 0.8)):
        make_run(root, f"webp_q{level}", level, bits, acc, codec="webp")
    # Known noise: the lossless bits grow with it, and more of them can go (down to q5).
    for noise, injected, lossless in ((4.0, 2_000, 26_000), (16.0, 8_000, 32_000)):
        for level, bits, acc in (("lossless", lossless, 0.8), (1, 1_000, 0.5), (5, 2_200, 0.8),
                                 (25, 6_500, 0.8)):
            make_run(root, f"jpeg_q{level}_noise{noise:g}" if level != "lossless" else
                     f"quality_lossless_noise{noise:g}", level, bits, acc, noise=noise,
                     injected=injected)


def test_codecs_share_the_lossless_reference_on_one_plot(tmp_path):
    make_tree(tmp_path / "logs")
    report = write_report(tmp_path / "logs", tmp_path / "out", n_boot=200)
    text = report.read_text()
    section = text.split("## Across codecs")[1].split("## Known sensor noise")[0]
    assert "![rate-accuracy by codec](codecs_cifar_cifar10_all-cnns.png)" in section
    assert (tmp_path / "out" / "codecs_cifar_cifar10_all-cnns.png").stat().st_size > 1000
    table = section.split("\n\n| codec | level |")[0]  # the table of cutoffs, not of points
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()
            if line.startswith("| jpeg") or line.startswith("| webp")}
    assert "| 25 |" in rows["jpeg"] and "| 25 |" in rows["webp"]  # q* of each
    assert "| resolution, points |" in table
    assert all(re.search(r"\| \d+\.\d \|", rows[codec]) for codec in ("jpeg", "webp"))
    # In payload bits, b(R) = 21,600; the threshold 0.78 is crossed between q25 and q5, 1/15 of
    # the way in log bits: at 5,400 x (1/3)^(1/15) = 5,019 (JPEG) and 3,600 x (3/8)^(1/15) = 3,372
    # (WebP), the content bits; the noise bits are 21,600 less these.
    assert "16,581 (" in rows["jpeg"] and "18,228 (" in rows["webp"]
    assert "5,019 (" in rows["jpeg"] and "3,372 (" in rows["webp"]


def test_known_noise_sets_the_estimate_beside_the_injected_bits(tmp_path):
    make_tree(tmp_path / "logs")
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=200).read_text()
    section = text.split("## Known sensor noise")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in lines[1:]] == ["0", "4", "16"]
    assert "2,000" in lines[2] and "8,000" in lines[3]  # the injected bits
    # estimates 16,581, then the crossing 1/15 of the way from q5 (1,980 payload bits) to q1 (900)
    # in log bits, 1,980 x (900/1,980)^(1/15) = 1,879: 23,400 - 1,879 = 21,521, 28,800 - 1,879 = 26,921
    assert "21,521" in lines[2] and "26,921" in lines[3]
    assert "2.47" in lines[2]  # (21,521 - 16,581) / (2,000 - 0)
    assert "Monotone? the estimate grows with the injected noise" in section


def test_a_codec_that_never_crosses_gets_bounds_not_intervals(tmp_path):
    # JPEG falls at q5; AVIF holds at every level tried, so its cutoff lies lower than q5.
    for level, bits, acc in (("lossless", 24_000, 0.8), (5, 2_000, 0.5), (25, 6_000, 0.8)):
        make_run(tmp_path / "logs", f"quality_{level}", level, bits, acc)
    for level, bits, acc in ((5, 1_500, 0.8), (25, 4_000, 0.8)):
        make_run(tmp_path / "logs", f"avif_q{level}", level, bits, acc, codec="avif")
    text = write_report(tmp_path / "logs", tmp_path / "out", n_boot=200).read_text()
    section = text.split("## Across codecs")[1].split("\n## ")[0]
    avif = next(line for line in section.splitlines() if line.startswith("| avif |"))
    # payload bits: b(R) 21,600 and q5's 1,350, so at least 20,250 noise, at most 1,350 content
    assert "at least 20,250 (90% lower bound" in avif
    assert "at most 1,350 (90% upper bound" in avif
