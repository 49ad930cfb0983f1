"""The control panel: data, input features, layers and training settings.

The panel knows nothing of the engine's objects beyond the settings it
produces. It emits one signal per kind of change; the window decides what
each means for the running training.
"""

from __future__ import annotations

import logging
import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mlp_studio.core import ACTIVATIONS, DATASETS, FEATURES
from mlp_studio.core.datasets import DataSpec
from mlp_studio.core.training import ModelSettings, TrainSettings

log = logging.getLogger(__name__)

PROBLEMS = {
    "binary": "Two classes",
    "multiclass": "Several classes",
    "regression": "Regression",
}
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0,
                  3.0, 10.0)
REG_RATES = (0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
REG_LABELS = {"none": "None", "l1": "L1", "l2": "L2"}
DRAWN = "drawn"  # the data set entry for points drawn or opened by hand
MAX_LAYERS = 10
MAX_NEURONS = 64


def _number_combo(values, current, tip):
    combo = QComboBox()
    for value in values:
        combo.addItem(f"{value:g}", value)
    combo.setCurrentIndex(_nearest(values, current))
    combo.setToolTip(tip)
    return combo


def _nearest(values, value):
    return min(range(len(values)), key=lambda i: abs(values[i] - value))


class LayerRow(QWidget):
    """One hidden layer: its width and activation, and a remove button."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, index, units, activation, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.units = QSpinBox()
        self.units.setRange(1, MAX_NEURONS)
        self.units.setValue(units)
        self.units.setSuffix(" neurons")
        self.units.setToolTip("Neurons in this hidden layer (1 to 64)")
        self.activation = QComboBox()
        for name, act in ACTIVATIONS.items():
            self.activation.addItem(act.label, name)
        self.activation.setCurrentIndex(self.activation.findData(activation))
        self.activation.setToolTip(
            "Activation of this layer's neurons: tanh and sigmoid saturate, "
            "ReLU and its leaky variant are piecewise linear, swish is "
            "smooth and non-monotone")
        self.remove = QToolButton()
        self.remove.setText("−")
        self.remove.setToolTip("Remove this layer")
        layout.addWidget(self.label)
        layout.addWidget(self.units, 1)
        layout.addWidget(self.activation, 1)
        layout.addWidget(self.remove)
        self.set_index(index)
        self.units.valueChanged.connect(self.changed)
        self.activation.currentIndexChanged.connect(self.changed)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))

    def set_index(self, index):
        self.label.setText(f"{index + 1}")
        self.label.setMinimumWidth(14)


class ControlPanel(QScrollArea):
    """Every setting of the data, the network and the training."""

    data_changed = Signal(object)  # DataSpec
    model_changed = Signal(object)  # ModelSettings
    training_changed = Signal(object)  # TrainSettings

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(self._data_group())
        column.addWidget(self._feature_group())
        column.addWidget(self._network_group())
        column.addWidget(self._training_group())
        column.addStretch(1)
        self.setWidget(body)
        self.setMinimumWidth(300)
        self._quiet = False
        self._sync_problem()
        self.dataset.setCurrentIndex(self.dataset.findData("spiral"))

    # ------------------------------------------------------------------
    # Building

    def _data_group(self):
        box = QGroupBox("Data")
        form = QFormLayout(box)
        self.problem = QComboBox()
        for key, label in PROBLEMS.items():
            self.problem.addItem(label, key)
        self.problem.setToolTip(
            "What the network learns: one of two classes, one of several "
            "classes, or a number (regression)")
        self.dataset = QComboBox()
        self.dataset.setToolTip("The built-in data set to train on")
        self.classes = QSpinBox()
        self.classes.setRange(3, 6)
        self.classes.setValue(3)
        self.classes.setToolTip("Number of classes (3 to 6)")
        self.points = QSpinBox()
        self.points.setRange(10, 5000)
        self.points.setSingleStep(50)
        self.points.setValue(500)
        self.points.setToolTip("Number of points generated (10 to 5,000)")
        self.noise = QSlider(Qt.Orientation.Horizontal)
        self.noise.setRange(0, 50)
        self.noise.setToolTip("Noise added to the points, 0 to 50 %")
        self.noise_label = QLabel("0 %")
        self.ratio = QSlider(Qt.Orientation.Horizontal)
        self.ratio.setRange(10, 90)
        self.ratio.setValue(50)
        self.ratio.setToolTip(
            "Share of the points used for training; the rest is the test "
            "set, drawn with a dark rim")
        self.ratio_label = QLabel("50 %")
        self.data_seed = QSpinBox()
        self.data_seed.setRange(0, 2**31 - 1)
        self.data_seed.setToolTip("Seed of the generated points and split")
        self.regenerate = QPushButton("Regenerate")
        self.regenerate.setToolTip("Draw a new set of points (new data seed)")
        self.regenerate.clicked.connect(self._regenerate)

        form.addRow("Problem", self.problem)
        form.addRow("Data set", self.dataset)
        self._classes_label = QLabel("Classes")
        form.addRow(self._classes_label, self.classes)
        form.addRow("Points", self.points)
        form.addRow("Noise", _with_label(self.noise, self.noise_label))
        form.addRow("Training share", _with_label(self.ratio,
                                                  self.ratio_label))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.data_seed, 1)
        seed_row.addWidget(self.regenerate)
        form.addRow("Data seed", seed_row)

        self.problem.currentIndexChanged.connect(self._problem_changed)
        for signal in (self.dataset.currentIndexChanged,
                       self.classes.valueChanged, self.points.valueChanged,
                       self.noise.valueChanged, self.ratio.valueChanged,
                       self.data_seed.valueChanged):
            signal.connect(self._emit_data)
        return box

    def _feature_group(self):
        box = QGroupBox("Input features")
        grid = QGridLayout(box)
        self.feature_boxes = {}
        for i, (name, (label, _)) in enumerate(FEATURES.items()):
            check = QCheckBox(label)
            check.setChecked(name in ("x1", "x2"))
            check.setToolTip(f"Feed {label} to the network")
            check.toggled.connect(self._emit_model)
            grid.addWidget(check, i // 4, i % 4)
            self.feature_boxes[name] = check
        return box

    def _network_group(self):
        box = QGroupBox("Hidden layers")
        column = QVBoxLayout(box)
        self.layer_rows: list[LayerRow] = []
        self.layers_box = QVBoxLayout()
        column.addLayout(self.layers_box)
        buttons = QHBoxLayout()
        self.add_layer = QPushButton("Add layer")
        self.add_layer.setToolTip("Add a hidden layer (at most 10)")
        self.add_layer.clicked.connect(self._add_layer_clicked)
        self.layer_summary = QLabel()
        buttons.addWidget(self.add_layer)
        buttons.addStretch(1)
        buttons.addWidget(self.layer_summary)
        column.addLayout(buttons)
        for _ in range(2):
            self._append_layer(8, "tanh")
        self._update_layer_summary()
        return box

    def _training_group(self):
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.learning_rate = _number_combo(
            LEARNING_RATES, TrainSettings().learning_rate,
            "Step size of each update. Too large and the loss explodes; too "
            "small and nothing seems to happen")
        self.batch = QSpinBox()
        self.batch.setRange(1, 5000)
        self.batch.setValue(10)
        self.batch.setToolTip(
            "Points per update: 1 is pure stochastic gradient descent, the "
            "whole training set is full-batch descent")
        self.optimizer = QComboBox()
        for key, label in OPTIMIZER_LABELS.items():
            self.optimizer.addItem(label, key)
        self.optimizer.setCurrentIndex(
            self.optimizer.findData(TrainSettings().optimizer))
        self.optimizer.setToolTip(
            "SGD follows the gradient; momentum remembers past steps; Adam "
            "scales each weight's step by its gradient history")
        self.regularization = QComboBox()
        for key, label in REG_LABELS.items():
            self.regularization.addItem(label, key)
        self.regularization.setToolTip(
            "Penalty on large weights (biases excluded): L1 drives weights "
            "to exactly zero, L2 shrinks them all")
        self.reg_rate = _number_combo(REG_RATES, 0.0,
                                      "Strength of the penalty")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(
            "Seed of the initial weights and of the batch order: the same "
            "seed replays the same training")
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Batch size", self.batch)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Regularization", self.regularization)
        form.addRow("Regularization rate", self.reg_rate)
        form.addRow("Weight seed", self.seed)
        for signal in (self.learning_rate.currentIndexChanged,
                       self.batch.valueChanged,
                       self.optimizer.currentIndexChanged,
                       self.regularization.currentIndexChanged,
                       self.reg_rate.currentIndexChanged):
            signal.connect(self._emit_training)
        self.seed.valueChanged.connect(self._emit_model)
        return box

    # ------------------------------------------------------------------
    # Layers

    def _append_layer(self, units, activation):
        row = LayerRow(len(self.layer_rows), units, activation)
        row.changed.connect(self._emit_model)
        row.remove_requested.connect(self._remove_layer)
        self.layer_rows.append(row)
        self.layers_box.addWidget(row)

    def _add_layer_clicked(self):
        if len(self.layer_rows) >= MAX_LAYERS:
            return
        last = self.layer_rows[-1] if self.layer_rows else None
        units = last.units.value() if last else 4
        activation = last.activation.currentData() if last else "tanh"
        self._append_layer(units, activation)
        self._update_layer_summary()
        self._emit_model()

    def _remove_layer(self, row):
        self.layer_rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        for i, other in enumerate(self.layer_rows):
            other.set_index(i)
        self._update_layer_summary()
        self._emit_model()

    def _update_layer_summary(self):
        count = len(self.layer_rows)
        self.add_layer.setEnabled(count < MAX_LAYERS)
        self.layer_summary.setText(
            "no hidden layer: a perceptron" if count == 0
            else f"{count} hidden layer{'s' * (count != 1)}")

    # ------------------------------------------------------------------
    # Reading and writing the settings

    def data_spec(self) -> DataSpec:
        name = self.dataset.currentData() or "spiral"
        if name == DRAWN:
            return DataSpec(name=DRAWN,
                            train_ratio=self.ratio.value() / 100.0,
                            seed=self.data_seed.value())
        return DataSpec(
            name=name,
            points=self.points.value(),
            noise=self.noise.value() / 100.0,
            seed=self.data_seed.value(),
            classes=self.classes.value(),
            train_ratio=self.ratio.value() / 100.0,
        )

    def model_settings(self) -> ModelSettings:
        features = tuple(n for n, box in self.feature_boxes.items()
                         if box.isChecked())
        return ModelSettings(
            features=features,
            hidden=tuple(r.units.value() for r in self.layer_rows),
            activations=tuple(r.activation.currentData()
                              for r in self.layer_rows),
            seed=self.seed.value(),
        )

    def train_settings(self) -> TrainSettings:
        return TrainSettings(
            learning_rate=self.learning_rate.currentData(),
            batch_size=self.batch.value(),
            optimizer=self.optimizer.currentData(),
            regularization=self.regularization.currentData(),
            reg_rate=self.reg_rate.currentData(),
        )

    def state(self) -> dict:
        """Plain values for QSettings."""
        spec, model, train = (self.data_spec(), self.model_settings(),
                              self.train_settings())
        return {
            "problem": self.problem.currentData(),
            "dataset": spec.name, "points": self.points.value(),
            "noise": self.noise.value(), "ratio": self.ratio.value(),
            "data_seed": spec.seed, "classes": self.classes.value(),
            "features": list(model.features),
            "hidden": list(model.hidden),
            "activations": list(model.activations),
            "seed": model.seed,
            "learning_rate": train.learning_rate, "batch": train.batch_size,
            "optimizer": train.optimizer,
            "regularization": train.regularization,
            "reg_rate": train.reg_rate,
        }

    def restore(self, state: dict) -> None:
        """Apply saved values; anything unknown or malformed is skipped
        with a log message and the default kept."""
        self._quiet = True
        try:
            self._restore(state)
        finally:
            self._quiet = False
        self._update_layer_summary()

    def _restore(self, state):
        def pick(key, kind, check=lambda v: True):
            value = state.get(key)
            try:
                value = kind(value)
            except (TypeError, ValueError):
                return None
            return value if check(value) else None

        problem = pick("problem", str, lambda v: v in PROBLEMS)
        if problem:
            self.problem.setCurrentIndex(self.problem.findData(problem))
            self._sync_problem()
        name = pick("dataset", str, lambda v: v in DATASETS)
        if name and self.dataset.findData(name) >= 0:
            self.dataset.setCurrentIndex(self.dataset.findData(name))
        for key, widget in (("points", self.points), ("noise", self.noise),
                            ("ratio", self.ratio),
                            ("data_seed", self.data_seed),
                            ("classes", self.classes), ("seed", self.seed),
                            ("batch", self.batch)):
            value = pick(key, int)
            if value is not None and \
                    widget.minimum() <= value <= widget.maximum():
                widget.setValue(value)
        features = state.get("features")
        if isinstance(features, list) and features and \
                all(f in FEATURES for f in features):
            for name, box in self.feature_boxes.items():
                box.setChecked(name in features)
        hidden, acts = state.get("hidden"), state.get("activations")
        if isinstance(hidden, list) and isinstance(acts, list) and \
                len(hidden) == len(acts) <= MAX_LAYERS:
            try:
                layers = [(int(u), str(a)) for u, a in zip(hidden, acts)]
            except (TypeError, ValueError):
                layers = None
            if layers is not None and all(
                    1 <= u <= MAX_NEURONS and a in ACTIVATIONS
                    for u, a in layers):
                for row in list(self.layer_rows):
                    self.layer_rows.remove(row)
                    row.setParent(None)
                    row.deleteLater()
                for units, act in layers:
                    self._append_layer(units, act)
        for key, combo, values in (
                ("learning_rate", self.learning_rate, LEARNING_RATES),
                ("reg_rate", self.reg_rate, REG_RATES)):
            value = pick(key, float, lambda v: v >= 0)
            if value is not None:
                combo.setCurrentIndex(_nearest(values, value))
        for key, combo in (("optimizer", self.optimizer),
                           ("regularization", self.regularization)):
            value = pick(key, str)
            if value is not None and combo.findData(value) >= 0:
                combo.setCurrentIndex(combo.findData(value))
        self.noise_label.setText(f"{self.noise.value()} %")
        self.ratio_label.setText(f"{self.ratio.value()} %")

    # ------------------------------------------------------------------
    # Emitting

    def _problem_changed(self):
        self._sync_problem()
        self._emit_data()

    def _sync_problem(self):
        """Offer the data sets that fit the chosen problem."""
        problem = self.problem.currentData()
        current = self.dataset.currentData()
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for name, (_, task, label) in DATASETS.items():
            if task == problem:
                self.dataset.addItem(label, name)
        index = self.dataset.findData(current)
        self.dataset.setCurrentIndex(max(index, 0))
        self.dataset.blockSignals(False)
        several = problem == "multiclass"
        self.classes.setVisible(several)
        self._classes_label.setVisible(several)

    def show_drawn(self, task: str) -> None:
        """Show that the points are the user's own, for ``task``; choosing
        a built-in data set afterwards replaces them (undo brings them
        back)."""
        self._quiet = True
        try:
            index = self.problem.findData(task)
            if index >= 0 and index != self.problem.currentIndex():
                self.problem.setCurrentIndex(index)
                self._sync_problem()
            if self.dataset.findData(DRAWN) < 0:
                self.dataset.insertItem(0, "Drawn by hand", DRAWN)
            self.dataset.setCurrentIndex(self.dataset.findData(DRAWN))
            self._sync_generator()
        finally:
            self._quiet = False

    def _regenerate(self):
        self.data_seed.setValue(random.randrange(0, 2**31 - 1))

    def _sync_generator(self):
        """Enable what generates points only while a built-in data set
        is chosen: drawn points have no count, noise or seed to change.
        The training share stays: new points are drawn with its odds."""
        generated = self.dataset.currentData() != DRAWN
        for widget in (self.classes, self.points, self.noise,
                       self.noise_label, self.data_seed, self.regenerate):
            widget.setEnabled(generated)

    def _emit_data(self):
        self._sync_generator()
        self.noise_label.setText(f"{self.noise.value()} %")
        self.ratio_label.setText(f"{self.ratio.value()} %")
        if not self._quiet:
            self.data_changed.emit(self.data_spec())

    def _emit_model(self):
        if self._quiet:
            return
        settings = self.model_settings()
        if not settings.features:
            # At least one input: undo the last uncheck.
            sender = self.sender()
            if isinstance(sender, QCheckBox):
                sender.setChecked(True)
            return
        self.model_changed.emit(settings)

    def _emit_training(self):
        if not self._quiet:
            self.training_changed.emit(self.train_settings())


def _with_label(slider, label):
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(slider, 1)
    label.setMinimumWidth(40)
    layout.addWidget(label)
    return row
