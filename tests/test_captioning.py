"""The captioning task (task: captioning) on images the test draws: nmt-prepare, nmt-train (the same
loop, exact resume), a toy captioner learned, nmt-caption (bad images, stdin, n-best, attention
grids, ensembles) and the one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from captioning_toy import COLOURS
from conftest import run_cli, train_straight_and_resumed

from nmt.errors import ConfigError
from nmt.tasks import load_config


@pytest.fixture
def trained(toy_captioner) -> Path:
    return toy_captioner

def test_prepare_decodes_each_image_once_into_one_array_beside_the_captions(trained):
    from nmt.captioning.data import open_images

    images = open_images(trained / "data", "dev")
    assert images.shape == (24, 16, 16, 3) and images.dtype == np.uint8
    assert (images[0] == 255).any() and (images[0] < 255).any()  # white, and a disc
    assert len((trained / "data" / "dev.tgt").read_text().splitlines()) == 24


def test_an_svg_is_rasterised_at_the_configured_size_and_a_broken_one_is_named(tmp_path):
    from nmt.captioning.config import ImageConfig
    from nmt.captioning.data import ImageError, read_image

    (tmp_path / "disc.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                       '<circle cx="5" cy="5" r="3" fill="rgb(220,30,30)"/></svg>')
    pixels = read_image(tmp_path / "disc.svg", ImageConfig(height=20, width=20))
    assert pixels.shape == (20, 20, 3)
    assert tuple(pixels[10, 10]) == COLOURS["red"] and tuple(pixels[0, 0]) == (255, 255, 255)  # on white
    (tmp_path / "cut.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10"')
    with pytest.raises(ImageError, match="cut.svg: not a readable SVG"):
        read_image(tmp_path / "cut.svg", ImageConfig())


def test_trim_reads_a_drawing_the_same_at_any_size_and_place_on_its_canvas(tmp_path):
    from PIL import Image, ImageDraw

    from nmt.captioning.config import ImageConfig
    from nmt.captioning.data import read_image

    for name, canvas, box in (("big", 40, (2, 2, 37, 37)), ("small", 100, (60, 10, 89, 39))):
        picture = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))  # transparent: laid on white
        ImageDraw.Draw(picture).rectangle(box, fill=(200, 40, 40, 255))
        picture.save(tmp_path / f"{name}.png")
    def ink_box(pixels):
        ink = pixels[:, :, 1] < 150
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        return rows[0], rows[-1], cols[0], cols[-1]

    trimmed = [read_image(tmp_path / f"{name}.png", ImageConfig(height=24, width=24, trim=True))
               for name in ("big", "small")]
    assert ink_box(trimmed[0]) == ink_box(trimmed[1]) == (1, 22, 1, 22)  # the same square, the same margin
    assert tuple(trimmed[1][12, 12]) == (200, 40, 40)
    assert ink_box(read_image(tmp_path / "small.png", ImageConfig(height=24, width=24))) == (2, 9, 14, 21)


def test_the_loop_trains_a_captioner_that_names_the_colour(trained):
    results = json.loads((trained / "results.json").read_text())["train"]
    assert results["task"] == "captioning" and results["unit"] == "caption tokens"
    assert results["best"]["exact"] >= 90.0, results["history"]  # of 24 dev images


def test_nmt_train_resumes_a_captioning_run_exactly(tmp_path, trained):
    train_straight_and_resumed(tmp_path, trained.parent / "run.yaml", trained, steps=12, stop_at=5)


def caption(model: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nmt.cli.caption", "--model", str(model), *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_nmt_caption_says_one_line_for_a_bad_image_and_goes_on(trained, tmp_path):
    images = trained.parent / "images"
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((images / "dev0.png").read_bytes()[:60])
    (tmp_path / "text.png").write_text("not an image")
    paths = [images / "dev0.png", tmp_path / "missing.png", truncated, tmp_path / "text.png", images / "dev1.png"]
    result = caption(trained, stdin="".join(f"{p}\n" for p in paths))  # paths on stdin
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.split("\n")[:-1]
    assert len(lines) == 5 and lines[1] == lines[2] == lines[3] == ""
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 3 and "missing.png: no such file" in problems[0] and "cut.png: not a readable" in problems[1]
    alone = caption(trained, str(paths[0]), str(paths[4]))  # the good images by themselves, as arguments
    assert alone.returncode == 0 and alone.stdout.split("\n")[:-1] == [lines[0], lines[4]] and lines[0]


def test_adapt_norm_gives_the_cnn_the_statistics_of_the_images_listed_and_names_a_bad_one(trained, tmp_path):
    """AdaBN (image.adapt_norm, nmt-caption --adapt-norm): the first batch norm's mean becomes that of the
    first convolution's outputs over the listed images (captions unread); a missing image is one line."""
    import torch
    from PIL import Image

    from nmt.tasks import load_trained

    images = trained.parent / "images"
    listing = tmp_path / "style.tsv"
    listing.write_text("".join(f"{images / f'dev{i}.png'}\tunread\n" for i in range(6)), encoding="utf-8")
    loaded = load_trained(trained, task="captioning")
    conv, norm = loaded.model.encoder.cnn[0], loaded.model.encoder.cnn[1]
    assert "adapted to the 6 images" in loaded.adapt_norm(listing)
    pixels = torch.from_numpy(np.stack([np.asarray(Image.open(images / f"dev{i}.png").convert("RGB")) for i in range(6)]))
    with torch.no_grad():
        features = conv(pixels.permute(0, 3, 1, 2).float().sub(127.5).div(127.5))
    assert torch.allclose(norm.running_mean, features.mean((0, 2, 3)), atol=1e-4)
    assert not loaded.model.training
    adapted = caption(trained, "--adapt-norm", str(listing), str(images / "dev0.png"))
    assert adapted.returncode == 0 and "batch norm of" in adapted.stderr and adapted.stdout.strip()
    listing.write_text(f"{tmp_path / 'gone.png'}\n", encoding="utf-8")
    bad = caption(trained, "--adapt-norm", str(listing), str(images / "dev0.png"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "gone.png" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_closed_list_makes_every_caption_a_listed_one_and_keeps_the_ones_listed(trained, tmp_path):
    """decode.closed_list (nmt-caption --closed-list): captions off the list (the toy model writes "gred" at
    times) give way to listed ones; where greedy's own caption is listed it stays."""
    images = [str(trained.parent / "images" / f"dev{i}.png") for i in range(24)]
    free = caption(trained, "--beam", "1", *images).stdout.splitlines()
    listing = tmp_path / "names.txt"
    listing.write_text("\n".join(COLOURS) + "\nred blue\n", encoding="utf-8")
    listed = caption(trained, "--closed-list", str(listing), "--beam", "1", *images).stdout.splitlines()
    assert len(listed) == len(free) and set(listed) <= set(COLOURS) and len(set(listed)) > 1
    assert all(mine == theirs for mine, theirs in zip(listed, free) if theirs in COLOURS)  # greedy's own path, if listed
    assert set(caption(trained, "--closed-list", str(listing), "--beam", "3", *images).stdout.splitlines()) <= set(COLOURS)
    listing.write_text("red blue\ngreen green green\n", encoding="utf-8")  # captions the model never writes
    forced = caption(trained, "--closed-list", str(listing), "--beam", "3", "--nbest", "2", *images)
    assert forced.returncode == 0
    assert all(sorted(line.split("\t")[::2]) == ["green green green", "red blue"] for line in forced.stdout.splitlines())
    unlisted = caption(trained, "--closed-list", str(tmp_path / "none.txt"), images[0])
    assert unlisted.returncode != 0 and "Traceback" not in unlisted.stderr and "none.txt" in unlisted.stderr


def test_nmt_caption_gives_nbest_json_with_attention_grids_and_ensembles(trained):
    image = trained.parent / "images" / "dev2.png"
    nbest = caption(trained, "--beam", "3", "--nbest", "2", str(image)).stdout.rstrip("\n").split("\t")
    assert len(nbest) == 4 and float(nbest[1]) >= float(nbest[3])
    record = json.loads(caption(trained, "--json", str(image)).stdout)
    grids = record["attention"]["grid"]
    assert len(grids) == len(record["attention"]["pieces"]) and record["attention"]["pieces"][-1] == "</s>"
    assert all(len(grid) == 4 and all(len(row) == 4 for row in grid) for grid in grids)  # 16 x 16 -> a 4 x 4 grid
    assert all(abs(sum(map(sum, grid)) - 1) < 1e-3 for grid in grids)
    twice = caption(trained, "--model", str(trained), str(image))
    assert twice.returncode == 0 and twice.stdout.strip() == record["text"]


def test_a_captioning_model_given_to_nmt_translate_names_nmt_caption(trained):
    result = run_cli("nmt.cli.translate", "--model", str(trained), stdin="haus\n")
    assert result.returncode == 2 and "holds a captioning model (task: captioning)" in result.stderr
    assert "caption images with nmt-caption" in result.stderr


@pytest.mark.parametrize("override, named", [
    ("model.reverse_source=true", "model.reverse_source reverses a sentence"),
    ("model.bidirectional=true", "model.bidirectional sets the text encoder"),
    ("image.channels=2", "image.channels = 2 is not valid"),
    ("image.encoder=efficientnet_lite0 image.channels=1", "image.encoder = 'efficientnet_lite0' reads colour images"),
    ("image.fine_tune=true", "image.fine_tune trains a pretrained encoder's weights"),
    ("image.encoder=efficientnet_lite0 image.stride=4", "image.stride = 4 is not valid"),
    ("image.row_encoder=true model.encoder_hidden=15", "image.row_encoder splits model.encoder_hidden"),
    ("image.encoder=efficientnet_lite0 image.augment=[scale]", "image.augment redraws training images"),
    ("image.augment=[tilt]", r"image.augment\[0\] = 'tilt' is not valid"),
    ("image.encoder=efficientnet_lite0 image.mix_style=0.5", "image.mix_style = 0.5 mixes a fine-tuned"),
])
def test_settings_an_image_cannot_take_are_one_line(trained, override, named):
    with pytest.raises(ConfigError, match=named):
        load_config(trained.parent / "run.yaml", override.split())


def test_the_doubly_stochastic_regulariser_adds_what_xu_et_al_write(trained):
    """lambda * sum over grid positions of (1 - the attention each got over the caption's steps)^2, per image."""
    import torch

    from nmt.captioning.task import CaptionTask
    from nmt.distributed import Cluster
    from nmt.specials import PAD
    from nmt.translation_task import summed_cross_entropy

    task = CaptionTask(load_config(trained / "config.yaml", ["train.attention_coverage=0.5"]),
                       device=torch.device("cpu"), cluster=Cluster())
    from nmt.captioning.data import image_batch

    lengths = task.dev_captions.lengths  # two images whose captions differ in length: one is padded
    pair = [int(np.argmin(lengths)), int(np.argmax(lengths))]
    assert lengths[pair[0]] < lengths[pair[1]]
    batch = image_batch(task.dev_images, pair, task.positions, [task.dev_captions[i] for i in pair])
    model = task.model.eval()
    with torch.no_grad():
        out = model(batch.src, batch.src_lengths, batch.tgt_in)
        penalty = 0.0
        for row in range(len(batch.indices)):  # by hand, image by image
            steps = int((batch.tgt_out[row] != PAD).sum())
            penalty += float(((1 - out.attention[row, :steps].sum(0)) ** 2).sum())
        cross_entropy = float(summed_cross_entropy(out.logits, batch.tgt_out))
        objective, logged = task.loss(model, batch, label_smoothing=0.0)
        assert float(objective) == pytest.approx(cross_entropy + 0.5 * penalty, rel=1e-5)
        assert float(logged) == pytest.approx(cross_entropy, rel=1e-5)  # the log's loss and ppl: no penalty
    assert penalty > 0
    with pytest.raises(ConfigError, match="train.attention_coverage regularises attention; model.variant = 'context'"):
        load_config(trained / "config.yaml", ["model.variant=context", "train.attention_coverage=0.1"])


def test_joint_ctc_adds_the_ctc_loss_of_each_caption_over_the_line_of_positions(trained):
    """(1 - w) cross-entropy + w CTC (Kim et al. 2017), CTC computed here from the encoder's logits with the
    captions' pieces before EOS as concatenated targets, PAD the blank (a caption its image's positions
    cannot hold adds nothing)."""
    import torch

    from nmt.captioning.data import image_batch
    from nmt.captioning.task import CaptionTask
    from nmt.distributed import Cluster
    from nmt.specials import EOS, PAD
    from nmt.translation_task import summed_cross_entropy

    task = CaptionTask(load_config(trained / "config.yaml", ["image.columns=true", "image.blocks=1", "train.ctc_weight=0.25",
                                                             "model.dropout=0.0"]), device=torch.device("cpu"),
                       cluster=Cluster())
    batch = image_batch(task.dev_images, [0, 1, 2], task.positions, [task.dev_captions[i] for i in range(3)])
    model = task.model.train()  # the CTC logits are a training pass's
    with torch.no_grad():
        objective, logged = task.loss(model, batch, label_smoothing=0.0)
        out = model(batch.src, batch.src_lengths, batch.tgt_in)
    log_probs = model.encoder.ctc_logits.log_softmax(-1)  # (B, w, V)
    captions = [[int(t) for t in row if t not in (PAD, EOS)] for row in batch.tgt_out]
    ctc = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), torch.tensor(sum(captions, [])),
                                       torch.full((3,), log_probs.shape[1]), torch.tensor([len(c) for c in captions]),
                                       blank=PAD, reduction="sum", zero_infinity=True)  # too long for w: 0
    cross_entropy = summed_cross_entropy(out.logits, batch.tgt_out)
    assert float(logged) == pytest.approx(float(cross_entropy), rel=1e-5) and float(ctc) > 0
    assert float(objective) == pytest.approx(0.75 * float(cross_entropy) + 0.25 * float(ctc), rel=1e-5)
    with pytest.raises(ConfigError, match="train.ctc_weight = 0.5 reads the encoder's positions as a line"):
        load_config(trained / "config.yaml", ["train.ctc_weight=0.5"])


def test_tensorboard_gets_the_captions_and_where_each_piece_looked(trained):
    import torch

    from nmt.captioning.task import CaptionTask
    from nmt.distributed import Cluster

    class Sink:
        def __init__(self):
            self.texts, self.figures = {}, {}

        def text(self, tag, markdown, step):
            self.texts[tag] = markdown

        def figure(self, tag, figure, step):
            self.figures[tag] = [len(figure.axes), [axis.get_title() for axis in figure.axes]]

    task = CaptionTask(load_config(trained / "config.yaml"), device=torch.device("cpu"), cluster=Cluster())
    task.validate()
    sink = Sink()
    task.report(sink, step=1)
    assert len(sink.texts["dev/captions"].splitlines()) == 2 + 5  # a header, its rule and five rows
    assert sorted(sink.figures) == ["dev/attention/0", "dev/attention/1", "dev/attention/2"]
    for panels, titles in sink.figures.values():  # the image and one panel per output piece, EOS last
        assert panels == len(titles) >= 2 and titles[0] == "image" and titles[-1] == "</s>"


def test_the_language_only_baseline_gives_every_image_the_same_caption_scores(trained):
    """image.blank: the same decoder, trained and run on one grey image whatever the input."""
    import torch

    from nmt.captioning.data import image_batch, open_images
    from nmt.captioning.task import build_captioner, grid_positions

    images = open_images(trained / "data", "dev")
    for blank in (False, True):
        cfg = load_config(trained / "config.yaml", [f"image.blank={str(blank).lower()}"])
        torch.manual_seed(0)
        model = build_captioner(cfg, 15).eval()
        batch = image_batch(images, [0, 1], grid_positions(cfg), [[5, 6], [5, 6]])
        with torch.no_grad():
            logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
        same = torch.allclose(logits[0], logits[1], atol=1e-6)
        assert same == blank  # different pictures, the same scores only when blank


def test_a_frozen_pretrained_encoder_trains_from_its_cached_grids_and_captions_from_pictures(trained, tmp_path):
    """image.encoder: efficientnet_lite0 through nmt-train (the backbone's grids cached once in the
    prepared data) and nmt-caption (the same backbone run on the image files)."""
    exp = tmp_path / "lite0"
    settings = [f"exp_dir={exp}", "image.encoder=efficientnet_lite0", "image.stride=8", "train.max_steps=60",
                "train.validate_every=30", "train.stop_metric=exact"]
    result = run_cli("nmt.cli.train", "--config", str(trained.parent / "run.yaml"), "--quiet",
                     *(arg for setting in settings for arg in ("--set", setting)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (exp / "data" / "train.grid-s8.f16").exists() and (exp / "data" / "dev.grid-s8.f16").exists()
    assert json.loads((exp / "results.json").read_text())["train"]["best"]["exact"] >= 90.0  # of 24 dev images
    dev = (trained.parent / "dev.tsv").read_text().splitlines()[:6]
    captioned = caption(exp, *(str(trained.parent / line.split("\t")[0]) for line in dev))
    assert captioned.returncode == 0, captioned.stderr
    assert sum(c == line.split("\t")[1] for c, line in zip(captioned.stdout.splitlines(), dev)) >= 5


def test_the_figure_tool_draws_a_row_of_panels_an_image(trained, tmp_path):
    from conftest import REPO
    from PIL import Image

    images = [str(trained.parent / "images" / f"dev{i}.png") for i in (0, 1)]
    result = subprocess.run([sys.executable, str(REPO / "tools" / "caption_figure.py"), "--model", str(trained),
                             "--out", str(tmp_path / "f.png"), *images], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    sheet = Image.open(tmp_path / "f.png")
    assert sheet.height == 2 * 190 and sheet.width >= 3 * 160  # two rows: the image, a piece, </s>


def test_init_from_starts_a_captioner_from_a_trained_one_with_its_vocabulary(trained, tmp_path):
    """nmt-train --init-from: the trained model's SentencePiece model and weights (with a learning rate
    of 0, one update leaves them as they were: only batch norm's running statistics move)."""
    import torch

    from nmt.tasks import load_trained

    exp = tmp_path / "tuned"
    settings = [f"exp_dir={exp}", "train.lr=0", "train.max_steps=1", "train.validate_every=1", "model.dropout=0.1",
                "tokenizer.vocab_size=12"]  # the tokenizer settings are the trained model's, whatever these say
    result = run_cli("nmt.cli.train", "--config", str(trained.parent / "run.yaml"), "--quiet", "--init-from",
                     str(trained), *(arg for setting in settings for arg in ("--set", setting)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (exp / "spm.model").read_bytes() == (trained / "spm.model").read_bytes()
    tuned, source = (dict(load_trained(e, task="captioning").model.named_parameters()) for e in (exp, trained))
    assert tuned.keys() == source.keys() and all(torch.equal(tuned[k], source[k]) for k in tuned)
    changed = run_cli("nmt.cli.train", "--config", str(trained.parent / "run.yaml"), "--quiet", "--init-from",
                      str(trained), "--set", f"exp_dir={tmp_path / 'wider'}", "--set", "model.decoder_hidden=48")
    assert changed.returncode != 0 and "that model differs from this config's" in changed.stderr


def test_a_fine_tuned_backbone_learns_at_its_fraction_of_the_rate(trained, tmp_path):
    """image.backbone_lr: the Trainer's optimizer holds EfficientNet's weights in a group of their own at
    that fraction of train.lr, the schedule keeping the ratio; every other weight learns at train.lr."""
    import torch

    from nmt.captioning.task import CaptionTask
    from nmt.distributed import Cluster
    from nmt.train import Trainer

    cfg = load_config(trained / "config.yaml", [f"exp_dir={trained}", "image.encoder=efficientnet_lite0",
                                                "image.fine_tune=true", "image.backbone_lr=0.1"])
    task = CaptionTask(cfg, device=torch.device("cpu"), cluster=Cluster())
    trainer = Trainer(task, cfg.train, exp_dir=tmp_path, device=torch.device("cpu"), quiet=True)
    rest, backbone = trainer.optimizer.param_groups
    assert {id(p) for p in backbone["params"]} == {id(p) for p in task.model.encoder.backbone.parameters()}
    assert len(rest["params"]) + len(backbone["params"]) == len(list(task.model.parameters()))
    for _ in range(3):
        trainer.schedule.after_update()
        assert backbone["lr"] == pytest.approx(0.1 * rest["lr"]) and rest["lr"] > 0
    with pytest.raises(ConfigError, match="image.backbone_lr = 0.1 sets how fast a fine-tuned"):
        load_config(trained / "config.yaml", ["image.backbone_lr=0.1"])
