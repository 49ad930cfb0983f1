"""The point inspector: what one training point wants the network to do."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mlp_studio.core.inspect import PointWish

log = logging.getLogger(__name__)

HINT = ("Pick a point with the Inspect tool (I), or Alt+click one, to see "
        "what it asks of every weight.")


def _label(text=""):
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class PointInspector(QWidget):
    """Forward values, the point's wishes, one step for it, the formal
    chain rule for a chosen weight, and the points that disagree most."""

    listen_requested = Signal()
    cleared = Signal()
    point_chosen = Signal(int)  # index into the window's points
    wish_field_toggled = Signal(bool)
    agreement_toggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumWidth(280)
        column = QVBoxLayout(self)
        self.title = _label(HINT)
        column.addWidget(self.title)
        self.forward = _label()
        column.addWidget(self.forward)

        buttons = QHBoxLayout()
        self.listen = QPushButton("Listen to this point")
        self.listen.setToolTip(
            "Take one gradient step for this point alone, with the current "
            "learning rate; the boundary before the step stays as a dotted "
            "ghost")
        self.listen.clicked.connect(self.listen_requested)
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Forget the inspected point")
        self.clear.clicked.connect(self.cleared)
        buttons.addWidget(self.listen, 1)
        buttons.addWidget(self.clear)
        column.addLayout(buttons)
        self.listened = _label()
        column.addWidget(self.listened)

        self.wish_field = QCheckBox("Wish field on the plot")
        self.wish_field.setToolTip(
            "How the model's output would change everywhere if the network "
            "took one step for this point alone: blue where it would rise, "
            "orange where it would fall")
        self.wish_field.toggled.connect(self.wish_field_toggled)
        column.addWidget(self.wish_field)

        self.neurons = _label()
        column.addWidget(self.neurons)

        formal = QGroupBox("Formal view")
        formal_column = QVBoxLayout(formal)
        self.formal = _label("Click an edge of the diagram to see how its "
                             "gradient is made by the chain rule.")
        formal_column.addWidget(self.formal)
        column.addWidget(formal)

        agree = QGroupBox("Agreement")
        agree_column = QVBoxLayout(agree)
        self.agreement = QCheckBox("Dash the weights the points pull both "
                                   "ways")
        self.agreement.setToolTip(
            "Per weight, |sum of the points' gradients| / sum of their "
            "sizes over the training set, shown when hovering an edge: 1 "
            "when all points pull the same way, dashed below 0.05")
        self.agreement.toggled.connect(self.agreement_toggled)
        agree_column.addWidget(self.agreement)
        agree_column.addWidget(QLabel("Points whose wish runs most against "
                                      "the rest:"))
        self.dissenters = QListWidget()
        self.dissenters.setMaximumHeight(120)
        self.dissenters.itemClicked.connect(
            lambda item: self.point_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        agree_column.addWidget(self.dissenters)
        column.addWidget(agree)
        column.addStretch(1)
        self.show_wish(None)

    # ------------------------------------------------------------------

    def show_wish(self, wish: PointWish | None, *, task="binary",
                  is_test=False):
        enabled = wish is not None
        for widget in (self.listen, self.clear, self.wish_field):
            widget.setEnabled(enabled)
        if not enabled:
            self.title.setText(HINT)
            self.forward.setText("")
            self.neurons.setText("")
            self.listened.setText("")
            return
        x1, x2 = wish.point
        which = "test" if is_test else "training"
        if task == "regression":
            label = f"target <b>{wish.label:.3g}</b>"
            belief = f"the model predicts <b>{wish.confidence:.3g}</b>"
        else:
            label = f"class <b>{int(wish.label)}</b>"
            belief = (f"the model gives its class "
                      f"<b>{wish.confidence:.1%}</b>")
        self.title.setText(f"<b>{which.capitalize()} point</b> "
                           f"({x1:.2f}, {x2:.2f}), {label}")
        self.forward.setText(f"{belief}; its loss is <b>{wish.loss:.4f}</b>")
        helps = ", ".join(
            f"<span style='color:{'#117733' if h else '#882255'}'>"
            f"{k + 1} {'helps' if h else 'hurts'}</span>"
            for k, h in enumerate(wish.helps))
        self.neurons.setText(
            f"First-layer neurons for this point: {helps}. On the diagram, "
            "▲ marks a weight the point wants larger, ▼ one it wants "
            "smaller; on the plot, arrows show where one step for it moves "
            "each boundary (green towards it, wine away).")

    def show_listened(self, before: float, after: float):
        change = "lower" if after < before else "higher"
        self.listened.setText(
            f"One step for this point: its loss went from <b>{before:.4f}"
            f"</b> to <b>{after:.4f}</b> ({change}).")

    def show_formal(self, text: str):
        self.formal.setText(text)

    def show_dissenters(self, rows):
        """``rows``: (index, x1, x2, label, score) of the points whose
        wish runs most against the rest, most against first."""
        self.dissenters.clear()
        for index, x1, x2, label, score in rows:
            item = QListWidgetItem(
                f"({x1:.2f}, {x2:.2f}) label {label:g}: cosine {score:+.2f}")
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            self.dissenters.addItem(item)


def formal_text(wish: PointWish, params, activation_names, task, layer, i, j,
                numeric: float) -> str:
    """The chain rule for weight ``params[layer][0][i, j]`` and the
    selected point, with its numbers, and the gradient check."""
    below = wish.features if layer == 0 else wish.activations[layer - 1]
    a_i = float(below[i])
    delta_j = float(wish.deltas[layer][j])
    grad = float(wish.grads[layer][0][i, j])
    upstream = "x" if layer == 0 else "a"
    lines = [
        f"<b>∂L/∂w</b> for the weight from unit {i + 1} of layer {layer} "
        f"to unit {j + 1} of layer {layer + 1}:",
        f"∂L/∂w = {upstream}<sub>{i + 1}</sub> · δ<sub>{j + 1}</sub> = "
        f"{a_i:.4g} × {delta_j:.4g} = <b>{grad:.4g}</b>",
    ]
    last = len(params) - 1
    if layer == last:
        if task == "regression":
            lines.append(f"At the output δ = ŷ − y = "
                         f"{float(wish.activations[-1][0]):.4g} − "
                         f"{wish.label:.4g}.")
        else:
            p = float(wish.activations[-1][j]) if task == "multiclass" \
                else float(wish.activations[-1][0])
            target = (1.0 if int(wish.label) == j else 0.0) \
                if task == "multiclass" else wish.label
            lines.append(f"At the output δ = p − y = {p:.4g} − {target:g} "
                         f"(cross-entropy after "
                         f"{'softmax' if task == 'multiclass' else 'sigmoid'}).")
    else:
        z = float(wish.pre_activations[layer][j])
        downstream = params[layer + 1][0][j]  # (fan_out of next,)
        deltas_next = wish.deltas[layer + 1]
        total = float(downstream @ deltas_next)
        name = activation_names[layer]
        units = len(deltas_next)
        lines.append(
            f"δ<sub>{j + 1}</sub> = f′(z) · Σ<sub>k</sub> w<sub>k</sub> "
            f"δ<sub>k</sub>, with f = {name} and z = {z:.4g}: the weights "
            f"from this unit to the {units} unit{'s' * (units != 1)} of the "
            f"next layer, times their deltas, sum to {total:.4g}, and "
            f"f′(z) = {(delta_j / total) if total else float('nan'):.4g}.")
    lines.append(
        f"<b>Gradient check</b>: analytic {grad:.6g}, finite difference "
        f"{numeric:.6g} (difference {abs(grad - numeric):.1e}).")
    return "<br>".join(lines)


def top_dissenters(scores, X, y, count=5):
    """Rows for ``PointInspector.show_dissenters`` from dissent scores."""
    order = np.argsort(scores)[:count]
    return [(int(k), float(X[k, 0]), float(X[k, 1]), float(y[k]),
             float(scores[k])) for k in order]
