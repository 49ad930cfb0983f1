"""The command line's train, predict and open commands, run in-process."""

import csv
import io
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

from mlp_studio.__main__ import main
from mlp_studio.app import application
from mlp_studio.cli import Progress
from mlp_studio.core import export
from mlp_studio.core.session import load_session

FAST = ["--epochs", "4", "--points", "120", "--hidden", "5"]


def call(argv):
    """main's exit status, with argparse's own exits as statuses too."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def train(tmp_path, out, *extra):
    path = tmp_path / out
    assert call(["train", "--data", "spiral", *FAST, *extra,
                 "--out", str(path)]) == 0
    return path


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], np.array(rows[1:], dtype=float)


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("mlp-studio: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def points_csv(tmp_path):
    path = tmp_path / "points.csv"
    grid = np.random.default_rng(0).uniform(-6, 6, (25, 2))
    path.write_text("x1,x2\n" + "".join(f"{a!r},{b!r}\n"
                                         for a, b in grid.tolist()))
    return path, grid


# ---------------------------------------------------------------- train


@pytest.mark.parametrize("suffix", [".json", ".py", ".mlpstudio"])
def test_train_reports_metrics_and_saves_by_extension(tmp_path, capsys,
                                                      suffix):
    path = train(tmp_path, "model" + suffix)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("train: loss ") and "accuracy" in out[0]
    assert out[1].startswith("test:  loss ") and "(60 points)" in out[1]
    assert out[2] == f"saved {path}"
    assert path.stat().st_size > 200


def test_train_saves_onnx(tmp_path):
    pytest.importorskip("onnx")
    path = train(tmp_path, "model.onnx")
    assert path.read_bytes()[:2] != b"{"  # a protobuf, not JSON


def test_the_saved_session_is_the_trained_run(tmp_path):
    path = train(tmp_path, "run.mlpstudio", "--optimizer", "momentum",
                 "--lr", "0.05", "--batch", "8", "--seed", "3")
    run = load_session(path)
    assert run.model.epochs == 4
    assert run.training.optimizer == "momentum"
    assert run.training.learning_rate == 0.05
    assert run.model_settings.hidden == (5,)


def test_a_perceptron_and_per_layer_activations(tmp_path):
    assert load_session(train(tmp_path, "a.mlpstudio", "--hidden", "")
                        ).model.sizes == (2, 1)
    assert load_session(train(tmp_path, "b.mlpstudio", "--hidden", "0")
                        ).model.sizes == (2, 1)
    run = load_session(train(tmp_path, "c.mlpstudio", "--hidden", "4,3",
                             "--activation", "relu,swish"))
    assert [a.name for a in run.model.activations] == ["relu", "swish"]


def test_train_on_a_csv_file(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n" + "".join(
        f"{i % 5 - 2},{i % 3 - 1},{i % 2}\n" for i in range(40)))
    path = tmp_path / "run.mlpstudio"
    assert call(["train", "--data", str(data), "--epochs", "2",
                 "--out", str(path)]) == 0
    assert len(load_session(path).dataset) == 40


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    progress = Progress(500, terminal)
    for epoch in range(1, 501):
        progress.show(epoch, 0.25)
    progress.close()
    text = terminal.getvalue()
    assert text.startswith("\r[") and text.endswith("loss 0.25\n")
    assert "100%" in text and text.count("\n") == 1

    log = io.StringIO()
    progress = Progress(500, log)
    for epoch in range(1, 501):
        progress.show(epoch, 0.25)
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in log.getvalue()
    assert lines[-1].startswith("100%  epoch 500/500")


# -------------------------------------------------------------- predict


def test_predictions_match_the_model(tmp_path, capsys, points_csv):
    points, grid = points_csv
    session = train(tmp_path, "run.mlpstudio", "--seed", "5")
    model = train(tmp_path, "model.json", "--seed", "5")
    expected = load_session(session).model.predict(grid)
    capsys.readouterr()

    for path in (session, model):
        assert call(["predict", str(path), str(points)]) == 0
        header, table = read_csv(capsys.readouterr().out)
        assert header == ["x1", "x2", "prediction"]
        assert np.array_equal(table[:, :2], grid)
        np.testing.assert_allclose(table[:, 2], expected, rtol=1e-12)


def test_multiclass_predictions_give_the_class_and_each_probability(
        tmp_path, points_csv):
    points, grid = points_csv
    model = tmp_path / "blobs.mlpstudio"
    assert call(["train", "--data", "blobs", "--classes", "4", *FAST,
                 "--out", str(model)]) == 0
    out = tmp_path / "predictions.csv"
    assert call(["predict", str(model), str(points), "--out", str(out)]) == 0

    header, table = read_csv(out.read_text())
    assert header == ["x1", "x2", "class", "p0", "p1", "p2", "p3"]
    probs = load_session(model).model.predict(grid)
    np.testing.assert_allclose(table[:, 3:], probs, rtol=1e-12)
    assert np.array_equal(table[:, 2], probs.argmax(axis=1))


def test_the_exported_script_agrees_with_predict(tmp_path, capsys,
                                                 points_csv):
    points, grid = points_csv
    script = train(tmp_path, "model.py", "--seed", "1")
    model = train(tmp_path, "model.json", "--seed", "1")
    capsys.readouterr()
    assert call(["predict", str(model), str(points)]) == 0
    _, table = read_csv(capsys.readouterr().out)
    predict = runpy.run_path(str(script))["predict"]
    np.testing.assert_allclose(predict(grid), table[:, 2], rtol=1e-12)


def test_data_set_files_can_be_predicted(tmp_path, capsys):
    points = tmp_path / "labelled.csv"
    points.write_text("label,x2,x1\n1,0.5,-0.5\n0,2.0,1.0\n")
    model = train(tmp_path, "model.json")
    capsys.readouterr()
    assert call(["predict", str(model), str(points)]) == 0
    _, table = read_csv(capsys.readouterr().out)
    assert table[:, :2].tolist() == [[-0.5, 0.5], [1.0, 2.0]]


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize("argv, message", [
    (["--data", "spirals"], "unknown data set 'spirals'"),
    (["--data", "spiral", "--hidden", "8,x"], "--hidden"),
    (["--data", "spiral", "--hidden", "8,0"], "--hidden"),
    (["--data", "spiral", "--lr", "0"], "--lr: must be above 0"),
    (["--data", "spiral", "--lr", "fast"], "--lr: 'fast' is not a number"),
    (["--data", "spiral", "--epochs", "-1"], "--epochs: must be 0 or more"),
    (["--data", "spiral", "--batch", "1.5"], "--batch: '1.5' is not a whole"),
    (["--data", "spiral", "--noise", "2"], "--noise"),
    (["--data", "spiral", "--train-ratio", "1.5"], "--train-ratio"),
    (["--data", "spiral", "--activation", "softsign"], "unknown activation"),
    (["--data", "spiral", "--activation", "relu,tanh"], "2 activations for "
                                                        "1 hidden layers"),
    (["--data", "spiral", "--optimizer", "rmsprop"], "invalid choice"),
    (["--data", "spiral", "--features", "x1,x3"], "unknown input feature"),
    (["--data", "missing.csv"], "missing.csv: No such file"),
])
def test_bad_train_arguments_exit_2_with_one_line(tmp_path, capsys, argv,
                                                   message):
    out = tmp_path / "model.json"
    code = call(["train", "--hidden", "3", *argv, "--out", str(out)])
    assert code == 2
    assert message in one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("out", ["model.txt", "model"])
def test_an_unknown_output_type_is_refused_before_training(tmp_path, capsys,
                                                           out):
    assert call(["train", "--data", "spiral", "--out",
                 str(tmp_path / out)]) == 2
    assert "--out: cannot save" in one_line_error(capsys)


def test_a_malformed_csv_is_named_with_its_line(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("x1,x2,label\n1,2,0\n3,4,1\n5,oops,1\n")
    assert call(["train", "--data", str(data), "--out",
                 str(tmp_path / "m.json")]) == 2
    assert "bad.csv: line 4:" in one_line_error(capsys)

    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n1,2\n\n3,nan\n")
    model = train(tmp_path, "model.json")
    capsys.readouterr()
    assert call(["predict", str(model), str(points)]) == 2
    assert "points.csv: line 4: x2 'nan' is not a finite" in one_line_error(
        capsys)


@pytest.mark.parametrize("content, message", [
    ("1,2\n3,4\n", "line 1: expected a header line naming the x1 and x2"),
    ("x1,x2\n", "no rows of points"),
    ("x1,x2\n1,2\n3\n", "line 3: expected 2 values, found 1"),
])
def test_bad_points_files_exit_2(tmp_path, capsys, content, message):
    points = tmp_path / "points.csv"
    points.write_text(content)
    model = train(tmp_path, "model.json")
    capsys.readouterr()
    assert call(["predict", str(model), str(points)]) == 2
    assert message in one_line_error(capsys)


def test_bad_model_files_exit_2(tmp_path, capsys, points_csv):
    points, _ = points_csv
    broken = tmp_path / "broken.mlpstudio"
    broken.write_text('{"format": "mlp-studio-session", "version": 9}')
    text = tmp_path / "model.txt"
    text.write_text("weights")
    for model, message in ((broken, "newer MLP Studio"),
                           (text, "cannot read a model from a .txt file"),
                           (tmp_path / "none.json", "No such file")):
        assert call(["predict", str(model), str(points)]) == 2
        assert message in one_line_error(capsys)


def test_divergence_exits_1(tmp_path, capsys):
    code = call(["train", "--data", "plane", *FAST, "--optimizer", "sgd",
                 "--lr", "1e200", "--out", str(tmp_path / "m.json")])
    assert code == 1
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("mlp-studio: ")]
    assert len(errors) == 1 and "training diverged" in errors[0]


# ----------------------------------------------------------------- open


def test_open_checks_the_file_then_opens_the_window(tmp_path, capsys,
                                                    monkeypatch):
    opened = []
    monkeypatch.setattr(application, "run_window",
                        lambda open_path=None: opened.append(open_path) or 0)
    session = train(tmp_path, "run.mlpstudio")
    capsys.readouterr()
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n1,2,0\n3,4,1\n")
    assert call(["open", str(session)]) == 0
    assert call(["open", str(data)]) == 0
    assert opened == [str(session), str(data)]

    session.write_bytes(session.read_bytes()[:100])
    for bad, message in ((session, "truncated"),
                         (tmp_path / "x.png", "cannot open a .png file"),
                         (tmp_path / "gone.csv", "No such file")):
        assert call(["open", str(bad)]) == 2
        assert message in one_line_error(capsys)
    assert len(opened) == 2


def test_screenshot_and_a_command_do_not_mix(capsys):
    assert call(["--screenshot", "x.png", "open", "run.mlpstudio"]) == 2
    one_line_error(capsys)


# ----------------------------------------------------- as a real process


def test_python_m_mlp_studio_train_end_to_end(tmp_path):
    out = tmp_path / "x.json"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run(
        [sys.executable, "-m", "mlp_studio", "train", "--data", "xor",
         "--epochs", "3", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "100%" in result.stderr
    params, activations, task, features = export.load_json(out)
    assert task == "binary" and tuple(activations) == ("tanh", "tanh")


def test_train_and_version_import_no_qt(tmp_path):
    code = (
        "import sys\n"
        "from mlp_studio.__main__ import main\n"
        f"code = main(['train', '--data', 'moons', '--epochs', '1', "
        f"'--out', {str(tmp_path / 'm.mlpstudio')!r}])\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "qt = [m for m in sys.modules if m.startswith(('PySide6', "
        "'pyqtgraph', 'mlp_studio.app'))]\n"
        "print(code, qt)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr
