"""The multi-layer perceptron: forward pass, backpropagation and training.

Layout
------
Every weight and bias lives in one flat float64 vector ``theta``. Layer
``l`` owns a contiguous block of it, viewed as an augmented matrix of shape
(fan_out, fan_in + 1): the first fan_in columns hold the weights
(``W.T``) and the last column the biases. The training loop stores points
as columns and keeps a row of ones under each layer's input, so that
``z = W_aug @ [a; 1]`` computes ``a @ W + b`` in one call and
``delta @ [a; 1].T`` yields the weight and the bias gradient in one call
too. An optimizer step is a few operations on the whole flat vector.

Two forward passes exist. The reference pass (``_trace``) allocates freely
and returns every intermediate value: it serves ``gradients``,
``backprop`` and the point inspector. The training pass is a fixed list of
numpy calls on preallocated buffers (``_Program``), built once per batch
size; on networks this small the number of numpy calls, not arithmetic,
sets the speed. Tests keep the two passes in agreement.
"""

from __future__ import annotations

import contextvars
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .activations import Activation, get_activation
from .heads import get_head, run_calls
from .optimizers import SGD, make_optimizer

log = logging.getLogger(__name__)

MAX_HIDDEN_LAYERS = 16
MAX_UNITS = 256
REGULARIZATIONS = ("none", "l1", "l2")
_PREDICT_CHUNK = 4096
_MAX_PROGRAMS = 8


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    The update responsible has been undone: the network holds the weights
    and optimizer state it had before that update.
    """

    def __init__(self, message: str, updates: int):
        super().__init__(message)
        self.updates = updates


@dataclass(frozen=True)
class Backprop:
    """Everything one forward and backward pass computed, per point.

    With n points and a network of L weight layers (L - 1 hidden layers):

    Attributes
    ----------
    inputs : (n, inputs) array, the network's input features.
    pre_activations : L arrays (n, units), z = a_prev @ W + b per layer;
        the last is the output logits.
    activations : L arrays (n, units), f(z) per layer; the last is the
        head's prediction (probabilities, or values for regression).
    deltas : L arrays (n, units), dL_i/dz of each point's own loss L_i.
    point_losses : (n,) data loss of each point.
    loss : mean of ``point_losses``.
    grads : L pairs (grad_W (fan_in, fan_out), grad_b (fan_out,)), the
        gradient of the mean data loss plus the regularization penalty.
    """

    inputs: np.ndarray
    pre_activations: list
    activations: list
    deltas: list
    point_losses: np.ndarray
    loss: float
    grads: list


class _Program:
    """One training update for batches of ``n`` points, compiled into a
    fixed list of numpy calls on buffers allocated here.

    ``ops_for(inputs, target, losses)`` returns the calls for one batch:
    ``inputs`` is a contiguous (features + 1, n) array whose last row is
    ones, ``target`` the (outputs, n) target the head prepared and
    ``losses`` a (1, n) array for each point's loss. Calling them leaves
    the logits in ``z_out`` and the parameter gradient, divided by
    ``delta_factor / n``, in the network's gradient vector. ``ops`` is the
    list bound to the program's own buffers.
    """

    def __init__(self, n, net):
        self.n = n
        self.net = net
        sizes, dtype = net.sizes, net.dtype
        self.inputs = np.ones((sizes[0] + 1, n), dtype)
        self.inputs_top = self.inputs[:-1]
        self.target = np.empty((sizes[-1], n), dtype)
        self.z_out = np.empty((sizes[-1], n), dtype)
        self.delta_out = np.empty((sizes[-1], n), dtype)
        self.losses = np.empty((1, n), dtype)
        self.ones = np.ones(n, dtype)
        self.column = np.empty((1, n), dtype)
        self.scratch_out = np.empty((sizes[-1], n), dtype)

        # Hidden layers are stacked in tall arrays so that one set of calls
        # computes every layer's slope when all share an activation. Each
        # layer takes units + 1 rows; the extra row of ``a_stack`` is the
        # ones row its successor uses for the bias.
        hidden = sizes[1:-1]
        rows = sum(k + 1 for k in hidden)
        self.stacks = tuple(np.zeros((rows, n), dtype) for _ in range(4))
        z_stack, a_stack, slope_stack, aux_stack = self.stacks
        a_stack[:] = 1.0
        self.z, self.a, self.a_aug, self.slope, self.aux = [], [], [], [], []
        self.delta_full = []
        top = 0
        for k in hidden:
            self.z.append(z_stack[top: top + k])
            self.a.append(a_stack[top: top + k])
            self.a_aug.append(a_stack[top: top + k + 1])
            self.slope.append(slope_stack[top: top + k])
            self.aux.append(aux_stack[top: top + k])
            self.delta_full.append(np.empty((k + 1, n), dtype))
            top += k + 1
        self.ops = self.ops_for(self.inputs, self.target, self.losses)
        self.batch_list = [self.batch(self.ops)]

    def batch(self, calls):
        """(calls, n, fused): a batch's calls, its size, and its calls
        followed by a plain SGD step, ``theta -= sgd_step * grad``, with
        the step (``lr * delta_factor / n``, a 0-d array) set before each
        run of updates. The fused form saves the optimizer's call, which
        on a small network is a tenth of an update's time."""
        net = self.net
        step = net._sgd_steps.get(self.n)
        if step is None:
            step = net._sgd_steps[self.n] = np.zeros((), net.dtype)
        theta, grad = net._theta, net._grad
        fused = calls + [partial(np.multiply, grad, step, grad),
                         partial(np.subtract, theta, grad, theta)]
        return calls, self.n, fused

    def ops_for(self, inputs, target, losses, logits=None):
        """The calls for one batch; ``logits`` is an (outputs, n) array to
        leave the logits in, ``z_out`` when None."""
        net = self.net
        z_out = self.z_out if logits is None else logits
        acts, weights, grads = net.activations, net._w_aug, net._grad_blocks
        ops = []
        below = inputs
        # Products go through the arrays' own ``dot`` method: ``np.dot``
        # costs about twice as much a call, in dispatch alone.
        for layer, act in enumerate(acts):
            ops.append((weights[layer].dot, (below, self.z[layer])))
            ops += act.forward_ops(self.z[layer], self.a[layer],
                                   self.aux[layer])
            below = self.a_aug[layer]
        ops.append((weights[-1].dot, (below, z_out)))
        self.n_forward = len(ops)
        ops += net.head.delta_ops(z_out, target, self.delta_out, losses,
                                  self.column, self.scratch_out)

        if acts and all(act is acts[0] for act in acts):
            ops += acts[0].slope_ops(*self.stacks[:2], self.stacks[3],
                                     self.stacks[2])
        else:
            for layer, act in enumerate(acts):
                ops += act.slope_ops(self.z[layer], self.a[layer],
                                     self.aux[layer], self.slope[layer])

        # Backward. The delta of each ones row is computed and ignored.
        delta = self.delta_out
        for layer in range(len(acts), 0, -1):
            below_full = self.delta_full[layer - 1]
            below_delta = below_full[:-1]
            ops += [
                (delta.dot, (self.a_aug[layer - 1].T, grads[layer])),
                (weights[layer].T.dot, (delta, below_full)),
                (np.multiply, (below_delta, self.slope[layer - 1],
                               below_delta)),
            ]
            delta = below_delta
        ops.append((delta.dot, (inputs.T, grads[0])))
        # Each op bound to its arguments: calling a partial with none is
        # the cheapest call Python offers, and an update makes dozens.
        return [partial(function, *args) for function, args in ops]


class _ForwardPass:
    """Logits for ``n`` points in the dtype of ``weights`` (a flat copy of
    the parameters the caller keeps current), compiled into numpy calls on
    buffers allocated here.

    Points are columns, as in training: each layer is one product of the
    (fan_out, fan_in + 1) block with the layer below and its ones row,
    so the bias costs nothing, and the arrays stay contiguous.
    """

    def __init__(self, n, net, weights):
        self.n = n
        self.weights = weights
        dtype = weights.dtype
        sizes = net.sizes
        blocks = [weights[start:stop].reshape(shape)
                  for start, stop, shape in net._blocks]
        self.inputs = np.ones((sizes[0] + 1, n), dtype)
        self.inputs_top = self.inputs[:-1]
        self.logits = np.empty((sizes[-1], n), dtype)
        self.hidden = []  # each hidden layer's (units, n) output
        ops = []
        below = self.inputs
        for layer, act in enumerate(net.activations):
            units = sizes[layer + 1]
            z = np.empty((units, n), dtype)
            a_aug = np.ones((units + 1, n), dtype)
            aux = np.empty((units, n), dtype) if act.needs_aux else None
            ops.append((blocks[layer].dot, (below, z)))
            ops += act.forward_ops(z, a_aug[:-1], aux)
            self.hidden.append(a_aug[:-1])
            below = a_aug
        ops.append((blocks[-1].dot, (below, self.logits)))
        self.calls = [partial(function, *args) for function, args in ops]

    def run(self, X, logits=None):
        """The forward pass for the rows of X (n, in), leaving every
        layer's output in ``hidden`` and ``logits``; these are copied into
        ``logits`` (outputs, n) unless it is None."""
        np.copyto(self.inputs_top, X.T)
        for call in self.calls:
            call()
        if logits is not None:
            np.copyto(logits, self.logits)


# Mean point loss below which an epoch's loss is summed exactly, not by a
# head's quick formula (see _Epoch._part).
_QUICK_LOSS_FLOOR = 1e-6


class _Epoch:
    """A training set laid out in contiguous batches, with each batch's
    compiled update, and a cursor: the batch the next update takes.

    Reused from epoch to epoch while the data stay the same objects: only
    the order of the points changes, copied into the same buffers.
    """

    def __init__(self, net, source, X, y, batch):
        self.source = source  # the caller's (X, y), compared by identity
        self.X, self.y = X, y  # checked copies
        self.batch = batch
        n, k = X.shape
        full, tail = divmod(n, batch)
        dtype = net.dtype
        self.inputs = np.ones((full, k + 1, batch), dtype)
        self.targets = np.empty((full, net.outputs, batch), dtype)
        # Each batch's logits, at the weights its update started from: the
        # epoch's loss is computed from them at the end, in one go.
        self.logits = np.full((full, net.outputs, batch), np.nan, dtype)
        self.scratch = np.empty((2, max(full * batch, tail)), dtype)
        # With one output the batches read as one (1, full * batch) row
        # without a copy.
        self.flat_logits = self.flat_targets = None
        if net.outputs == 1:
            self.flat_logits = self.logits.reshape(1, -1)
            self.flat_targets = self.targets.reshape(1, -1)
        program = net._program(batch)
        self.batches = [
            program.batch(program.ops_for(self.inputs[i], self.targets[i],
                                          None, self.logits[i]))
            for i in range(full)
        ]
        self.tail_inputs = np.ones((k + 1, tail), dtype)
        self.tail_target = np.empty((net.outputs, tail), dtype)
        self.tail_logits = np.full((net.outputs, tail), np.nan, dtype)
        if tail:
            program = net._program(tail)
            self.batches.append(program.batch(program.ops_for(
                self.tail_inputs, self.tail_target, None,
                self.tail_logits)))
        self.cursor = len(self.batches)  # no order drawn yet
        self.loaded = False
        self.order: np.ndarray | None = None
        self.loss_calls = self._loss_calls(net.head)

    def _loss_calls(self, head):
        """(quick, exact, floor) for each part of the pass: lists of calls
        (see ``heads.run_calls``) whose results sum the points' losses over
        the last pass. Quick is None or may be off (``Head.
        quick_loss_sum_calls``); below ``floor`` its sum is left to the
        exact calls. Bound once, as an epoch's loss costs a full-batch
        update as much as its own calls."""
        parts = []
        if len(self.logits):
            if self.flat_logits is not None:
                parts.append(self._part(head, self.flat_logits,
                                        self.flat_targets))
            else:  # several outputs: no view, a copy each time
                parts.append((None, [partial(self._columns_loss_sum, head)],
                              0.0))
        if self.tail_logits.shape[1]:
            parts.append(self._part(head, self.tail_logits, self.tail_target))
        return parts

    def _part(self, head, z, target):
        # The quick sum's rounding is at most a few units in the last place
        # of each |z| / 2 below cosh's overflow at 1420: under 1e-12 a
        # point. From a mean loss of 1e-6 up that is below a millionth.
        return (head.quick_loss_sum_calls(z, target),
                head.loss_sum_calls(z, target, self.scratch),
                _QUICK_LOSS_FLOOR * z.shape[1])

    def _columns_loss_sum(self, head):
        return head.prepared_loss_sum(_columns(self.logits),
                                      _columns(self.targets), self.scratch)

    def matches(self, X, y, batch):
        return (X is self.source[0] and y is self.source[1]
                and batch == self.batch)

    def mean_loss(self) -> float:
        """Mean of the points' losses over the last full pass, each at the
        weights its batch's update started from."""
        total = 0.0
        for quick, exact, floor in self.loss_calls:
            part = math.nan if quick is None else float(run_calls(quick))
            # Not finite, or so small that rounding could matter: exact.
            if not floor <= part < math.inf:
                part = float(run_calls(exact))
            total += part
        return total / len(self.X)

    def shuffle(self, net, shuffle):
        """Draw the next epoch's order, load it, and rewind the cursor."""
        n = len(self.X)
        if self.loaded and len(self.batches) == 1:
            # One full batch: its gradient does not depend on the order.
            self.cursor = 0
            return
        order = net._shuffle_rng.permutation(n) if shuffle else np.arange(n)
        self.lay_out(net, order)

    def lay_out(self, net, order):
        """Load the points in ``order`` into the batches; rewind."""
        self.order = order
        X = self.X[order]
        target = net.head.prepare(self.y[order], net.outputs)
        full, k, batch = self.inputs.shape[0], X.shape[1], self.batch
        used = full * batch
        self.inputs[:, :k, :] = X[:used].reshape(full, batch, k).transpose(
            0, 2, 1)
        self.targets[:] = target[:, :used].reshape(-1, full, batch).transpose(
            1, 0, 2)
        self.tail_inputs[:k] = X[used:].T
        self.tail_target[:] = target[:, used:]
        self.cursor = 0
        self.loaded = True


def _columns(batches):
    """(batches, outputs, size) as (outputs, batches * size)."""
    return batches.transpose(1, 0, 2).reshape(batches.shape[1], -1)


class MLP:
    """A fully connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    inputs : number of input features (2 for raw (x1, x2)).
    hidden : sizes of the hidden layers, e.g. ``[8, 8]``; empty for a
        single perceptron.
    outputs : output units: 1 for binary and regression tasks, the number
        of classes (2 to 6) for a multiclass task.
    activation : one activation name for every hidden layer, or a list
        with one name per hidden layer: relu, tanh, sigmoid, linear,
        leaky_relu, swish.
    task : "binary", "multiclass" or "regression".
    seed : seed of the initial weights and of the batch shuffling. The same
        seed, data and settings give bit-identical weights after any number
        of updates.
    optimizer : "sgd", "momentum", "adam", or an optimizer instance.
    regularization : "none", "l1" or "l2". Biases are never regularized.
    reg_rate : strength of the penalty: rate * sum|w| for L1 and
        rate / 2 * sum w^2 for L2.
    dtype : float64, or float32 to train wide layers about twice as fast
        (the products of 64 x 64 blocks cost half as much), with about
        seven significant digits. Parameters and gradients come out in it.
    """

    def __init__(
        self,
        inputs: int = 2,
        hidden: Sequence[int] | int = (8, 8),
        outputs: int = 1,
        activation: str | Sequence[str] = "tanh",
        task: str = "binary",
        seed: int = 0,
        *,
        optimizer="sgd",
        regularization: str | None = "none",
        reg_rate: float = 0.0,
        dtype=np.float64,
    ):
        self.inputs = _check_count("inputs", inputs, 1, MAX_UNITS)
        if isinstance(hidden, (int, np.integer)):
            hidden = [hidden]
        hidden = list(hidden)
        if len(hidden) > MAX_HIDDEN_LAYERS:
            raise ValueError(
                f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(hidden)}"
            )
        self.hidden = tuple(
            _check_count(f"hidden layer {i + 1}", units, 1, MAX_UNITS)
            for i, units in enumerate(hidden)
        )
        self.head = get_head(task)
        self.task = self.head.task
        self.head.check_outputs(int(outputs))
        self.outputs = int(outputs)
        self.sizes = (self.inputs, *self.hidden, self.outputs)
        self.activations: tuple[Activation, ...] = _layer_activations(
            activation, len(self.hidden)
        )
        self.seed = _check_seed(seed)
        self.dtype = _check_dtype(dtype)

        self._optimizer = make_optimizer(optimizer)
        self._regularization = "none"
        self._reg_rate = 0.0
        self.regularization = regularization
        self.reg_rate = reg_rate

        self._layout()
        self._allocate_state()
        self._initial_theta = self._initial_weights(self.seed)
        self.reset()

    # ------------------------------------------------------------------
    # Construction

    def _layout(self):
        """Where each layer lives inside the flat parameter vector."""
        self._blocks = []
        start = 0
        mask = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            stop = start + fan_out * (fan_in + 1)
            self._blocks.append((start, stop, (fan_out, fan_in + 1)))
            block_mask = np.ones((fan_out, fan_in + 1))
            block_mask[:, -1] = 0.0
            mask.append(block_mask.ravel())
            start = stop
        self.n_params = start
        self._weight_mask = np.concatenate(mask).astype(self.dtype)
        self._ones = np.ones(self.n_params, self.dtype)
        self._grad = np.zeros(self.n_params, self.dtype)
        self._reg_scratch = np.zeros(self.n_params, self.dtype)
        self._grad_blocks = [
            self._grad[s:e].reshape(shape) for s, e, shape in self._blocks
        ]
        self._programs: dict[int, _Program] = {}
        self._sgd_steps: dict[int, np.ndarray] = {}  # see _Program.batch
        self._quiet_context: contextvars.Context | None = None
        self._epoch: _Epoch | None = None
        self._forward_passes: dict[tuple, _ForwardPass] = {}
        self._forward_weights: dict[np.dtype, np.ndarray] = {}

    def _allocate_state(self, keep_theta=None):
        """Flat state: theta followed by the optimizer's buffers.

        One array holds it all, so that undoing an update is one copy.
        """
        n = self.n_params
        self._state = np.zeros(n * (1 + self._optimizer.n_buffers), self.dtype)
        self._backup = np.empty_like(self._state)
        self._has_backup = False
        self._replay = None
        self._theta = self._state[:n]
        if keep_theta is not None:
            self._theta[:] = keep_theta
        self._opt_buffers = [
            self._state[n * (i + 1): n * (i + 2)]
            for i in range(self._optimizer.n_buffers)
        ]
        self._w_aug = [
            self._theta[s:e].reshape(shape) for s, e, shape in self._blocks
        ]
        # Compiled updates hold views of the old state.
        self._programs = {}
        self._epoch = None
        self._opt_steps = 0

    def _initial_weights(self, seed):
        """Glorot-uniform weights for tanh, sigmoid and linear layers,
        He-uniform for the rectifiers; biases start at zero."""
        rng = np.random.default_rng(seed)
        theta = np.zeros(self.n_params)
        kinds = [act.name for act in self.activations] + ["output"]
        for (start, stop, shape), kind in zip(self._blocks, kinds):
            fan_out, fan_in = shape[0], shape[1] - 1
            if kind in ("relu", "leaky_relu", "swish"):
                limit = math.sqrt(6.0 / fan_in)
            else:
                limit = math.sqrt(6.0 / (fan_in + fan_out))
            weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            theta[start:stop].reshape(shape)[:, :-1] = weights.T
        return theta

    # ------------------------------------------------------------------
    # Settings that may change while training runs

    @property
    def optimizer(self):
        return self._optimizer

    @optimizer.setter
    def optimizer(self, spec):
        """Switch optimizer; its state (momentum, moments) starts afresh."""
        new = make_optimizer(spec)
        if new == self._optimizer:
            return
        theta = self._theta.copy()
        self._optimizer = new
        self._allocate_state(keep_theta=theta)

    def set_optimizer(self, name, **hyper):
        """Switch optimizer by name with hyperparameters, e.g.
        ``set_optimizer("adam", beta1=0.8)``."""
        self.optimizer = make_optimizer(name, **hyper)

    @property
    def regularization(self) -> str:
        return self._regularization

    @regularization.setter
    def regularization(self, kind):
        key = "none" if kind is None else str(kind).strip().lower()
        if key not in REGULARIZATIONS:
            raise ValueError(
                f"unknown regularization {kind!r}; expected one of: "
                f"{', '.join(REGULARIZATIONS)}"
            )
        self._regularization = key

    @property
    def reg_rate(self) -> float:
        return self._reg_rate

    @reg_rate.setter
    def reg_rate(self, rate):
        rate = _check_real("regularization rate", rate)
        if rate < 0.0:
            raise ValueError(f"regularization rate must be >= 0, got {rate}")
        self._reg_rate = rate

    # ------------------------------------------------------------------
    # Parameters

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of the weights and biases, one ``(W, b)`` per layer.

        ``W`` has shape (fan_in, fan_out) and ``b`` shape (fan_out,).
        """
        return [(w[:, :-1].T.copy(), w[:, -1].copy()) for w in self._w_aug]

    def set_params(self, params) -> None:
        """Replace the weights with a list like the one ``params`` returns.

        Optimizer state is kept, so training continues smoothly after a
        hand edit of one weight.
        """
        params = list(params)
        if len(params) != len(self._w_aug):
            raise ValueError(
                f"expected {len(self._w_aug)} layers of (W, b), got {len(params)}"
            )
        new = self._theta.copy()
        for layer, (pair, (start, stop, shape)) in enumerate(
            zip(params, self._blocks)
        ):
            try:
                weights, bias = pair
            except (TypeError, ValueError):
                raise ValueError(f"layer {layer}: expected a (W, b) pair") from None
            weights = np.asarray(weights, dtype=np.float64)
            bias = np.asarray(bias, dtype=np.float64)
            fan_out, fan_in = shape[0], shape[1] - 1
            if weights.shape != (fan_in, fan_out):
                raise ValueError(
                    f"layer {layer}: W must have shape "
                    f"{(fan_in, fan_out)}, got {weights.shape}"
                )
            if bias.shape != (fan_out,):
                raise ValueError(
                    f"layer {layer}: b must have shape {(fan_out,)}, "
                    f"got {bias.shape}"
                )
            if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
                raise ValueError(f"layer {layer}: weights contain NaN or infinity")
            block = new[start:stop].reshape(shape)
            block[:, :-1] = weights.T
            block[:, -1] = bias
        self._theta[:] = new
        self._has_backup = False

    def flat_params(self) -> np.ndarray:
        """A copy of all parameters as one vector of length ``n_params``."""
        return self._theta.copy()

    def set_flat_params(self, theta) -> None:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(
                f"expected {self.n_params} parameters, got shape {theta.shape}"
            )
        if not np.isfinite(theta).all():
            raise ValueError("parameters contain NaN or infinity")
        self._theta[:] = theta
        self._has_backup = False

    def unflatten(self, theta) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split a flat vector into the ``params()`` layout (as views)."""
        theta = np.asarray(theta)
        pairs = []
        for start, stop, shape in self._blocks:
            block = theta[start:stop].reshape(shape)
            pairs.append((block[:, :-1].T, block[:, -1]))
        return pairs

    @property
    def weight_mask(self) -> np.ndarray:
        """(n_params,) array: 1 where ``flat_params`` holds a weight,
        0 where it holds a bias."""
        return self._weight_mask.copy()

    def reset(self) -> None:
        """Back to the initial weights of this seed, with fresh optimizer
        state and batch order: training replays exactly."""
        self._theta[:] = self._initial_theta
        for buffer in self._opt_buffers:
            buffer[:] = 0.0
        self._opt_steps = 0
        self._has_backup = False
        self._shuffle_rng = np.random.default_rng([self.seed, 1])
        if self._epoch is not None:
            self._epoch.cursor = len(self._epoch.batches)
        self.updates = 0
        self.epochs = 0

    def reseed(self, seed: int | None = None) -> int:
        """Draw new initial weights from ``seed`` (a random one if None)
        and reset to them. Returns the seed used."""
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        self.seed = _check_seed(seed)
        self._initial_theta = self._initial_weights(self.seed)
        self.reset()
        return self.seed

    # ------------------------------------------------------------------
    # Inference

    def predict(self, X, dtype=np.float64) -> np.ndarray:
        """Predictions for the rows of ``X``.

        Parameters
        ----------
        X : (n, inputs) array of input features.
        dtype : float64, or float32 for speed (about 3x faster on large
            grids, accurate to about 1e-6).

        Returns
        -------
        (n,) probabilities of class 1 for a binary task, (n, classes)
        probabilities for a multiclass task, (n,) values for regression.
        """
        X = self._check_inputs(X, dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            # Weights beyond float32's range (a run about to diverge)
            # give inf and NaN predictions rather than an error.
            return self._predict(X, np.dtype(dtype))

    def _predict(self, X, dtype):
        n = len(X)
        chunk = min(n, _PREDICT_CHUNK) or 1
        full, tail = divmod(n, chunk)
        passes = [self._forward_pass(chunk, dtype)] * full
        if tail:
            passes.append(self._forward_pass(tail, dtype))
        np.copyto(passes[0].weights, self._theta)  # in the passes' dtype

        logits = np.empty((self.outputs, n), dtype)
        begin = 0
        for forward in passes:
            rows = forward.n
            forward.run(X[begin: begin + rows], logits[:, begin: begin + rows])
            begin += rows
        return self._head_output(logits.T)

    def _forward_pass(self, n, dtype) -> _ForwardPass:
        """The compiled forward pass for ``n`` points in ``dtype``; passes
        of one dtype share one copy of the weights."""
        key = (n, dtype)
        forward = self._forward_passes.get(key)
        if forward is None:
            if len(self._forward_passes) >= _MAX_PROGRAMS:
                self._forward_passes.clear()
            weights = self._forward_weights.get(dtype)
            if weights is None:
                weights = self._forward_weights[dtype] = np.empty(
                    self.n_params, dtype)
            forward = self._forward_passes[key] = _ForwardPass(
                n, self, weights)
        return forward

    def _head_output(self, z):
        if self.task == "binary":
            z *= 0.5
            np.tanh(z, out=z)
            z *= 0.5
            z += 0.5
            return z[:, 0]
        if self.task == "multiclass":
            return self.head.output(z)
        return z[:, 0]

    def predict_labels(self, X) -> np.ndarray:
        """Predicted class labels (ints) for a classification task."""
        if self.task == "regression":
            raise ValueError("a regression model predicts values, not labels")
        probs = self.predict(X)
        if self.task == "binary":
            return (probs >= 0.5).astype(np.int64)
        return probs.argmax(axis=1)

    def loss(self, X, y) -> float:
        """Mean data loss on (X, y): cross-entropy for classification,
        half the mean squared error for regression. No penalty term."""
        X, y = self._check_data(X, y)
        return self._data_loss(X, y)

    def _data_loss(self, X, y):
        if len(y) == 0:
            return float("nan")
        z = self._trace(X)[0][-1]
        return float(self.head.point_losses(z, y).mean())

    def penalty(self) -> float:
        """The regularization term added to the data loss."""
        weights = self._theta * self._weight_mask
        if self._regularization == "l1":
            return self._reg_rate * float(np.abs(weights).sum())
        if self._regularization == "l2":
            return 0.5 * self._reg_rate * float(weights @ weights)
        return 0.0

    def objective(self, X, y) -> float:
        """What training minimises: ``loss(X, y) + penalty()``."""
        return self.loss(X, y) + self.penalty()

    def accuracy(self, X, y) -> float:
        """Fraction of points whose predicted class is their label."""
        X, y = self._check_data(X, y)
        if len(y) == 0:
            return float("nan")
        return float((self.predict_labels(X) == y).mean())

    # ------------------------------------------------------------------
    # Gradients and explanations

    def _trace(self, X):
        """Reference forward pass: (pre-activations, activations) per layer."""
        zs, outs = [], []
        a = X
        for layer, block in enumerate(self._w_aug):
            z = a @ block[:, :-1].T + block[:, -1]
            if layer < len(self.activations):
                a = self.activations[layer].value(z)
            else:
                a = self.head.output(z)
            zs.append(z)
            outs.append(a)
        return zs, outs

    def backprop(self, X, y) -> Backprop:
        """One forward and backward pass with every intermediate kept.

        See ``Backprop`` for what it holds. Allocates freely: meant for
        explanation and inspection, not for the training loop.
        """
        X, y = self._check_data(X, y)
        zs, outs = self._trace(X)
        deltas = [None] * len(zs)
        deltas[-1] = self.head.delta(zs[-1], y)
        for layer in range(len(zs) - 1, 0, -1):
            back = deltas[layer] @ self._w_aug[layer][:, :-1]
            act = self.activations[layer - 1]
            deltas[layer - 1] = back * act.slope(zs[layer - 1], outs[layer - 1])

        n = max(len(X), 1)
        reg_grad = self._penalty_gradient()
        grads = []
        for layer, delta in enumerate(deltas):
            below = X if layer == 0 else outs[layer - 1]
            start, stop, shape = self._blocks[layer]
            reg = reg_grad[start:stop].reshape(shape)
            grads.append((below.T @ delta / n + reg[:, :-1].T,
                          delta.sum(0) / n))
        point_losses = self.head.point_losses(zs[-1], y)
        return Backprop(
            inputs=X,
            pre_activations=zs,
            activations=outs,
            deltas=deltas,
            point_losses=point_losses,
            loss=float(point_losses.mean()) if len(y) else float("nan"),
            grads=grads,
        )

    def gradients(self, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
        """Gradient of ``objective(X, y)`` in the ``params()`` layout."""
        return self.backprop(X, y).grads

    def point_gradients(self, x, y) -> Backprop:
        """``backprop`` for a single point ``x`` (shape (inputs,)) with
        label ``y``: what this one point asks of every weight."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        return self.backprop(x, np.asarray([y]))

    def per_point_gradients(self, X, y):
        """Each point's own data-loss gradient, without the penalty.

        Returns
        -------
        list of (grad_W (n, fan_in, fan_out), grad_b (n, fan_out)) per layer.
        """
        trace = self.backprop(X, y)
        grads = []
        for layer, delta in enumerate(trace.deltas):
            below = trace.inputs if layer == 0 else trace.activations[layer - 1]
            grads.append((below[:, :, None] * delta[:, None, :], delta.copy()))
        return grads

    def _penalty_gradient(self):
        if self._regularization == "l1" and self._reg_rate:
            return self._reg_rate * np.sign(self._theta) * self._weight_mask
        if self._regularization == "l2" and self._reg_rate:
            return self._reg_rate * self._theta * self._weight_mask
        return np.zeros(self.n_params)

    # ------------------------------------------------------------------
    # Training

    def step(self, X, y, lr: float) -> float:
        """One update on the batch (X, y) with learning rate ``lr``.

        Returns the batch's mean data loss at the weights before the update.
        Raises ``NonFiniteLossError`` (with the update undone) when the
        loss or the new weights are not finite.
        """
        X, y = self._check_data(X, y, cheap=True)
        if len(X) == 0:
            raise ValueError("cannot take a step on an empty batch")
        lr = _check_lr(lr)
        n = len(X)
        program = self._program(n)
        np.copyto(program.inputs_top, X.T)
        self.head.prepare_into(y, program.target)
        self._quietly(self._train, program.batch_list, lr, X)

        # A dot product with ones: the cheapest sum numpy offers.
        loss = float(program.losses[0].dot(program.ones)) / n
        if not math.isfinite(loss):
            self._undo(X, loss)
        return loss

    def train_epoch(self, X, y, lr: float, batch_size: int | None = None,
                    shuffle: bool = True) -> float:
        """One whole pass over (X, y) in mini-batches, in a fresh order.

        Parameters
        ----------
        X : (n, inputs) features; y : (n,) labels or targets.
        lr : learning rate.
        batch_size : points per update, 1 to n; None for the whole set.
        shuffle : visit the points in a fresh random order (drawn from the
            model's seed) each epoch.

        Returns
        -------
        The mean data loss over the epoch: each point's loss taken at the
        weights its batch's update started from (as Keras reports it).
        """
        epoch, lr = self._epoch_for(X, y, lr, batch_size)
        epoch.shuffle(self, shuffle)
        loss = self._run_batches(epoch, len(epoch.batches), lr, measure=True)
        self.epochs += 1
        if not math.isfinite(loss):
            self._undo(epoch.X, loss)
        return loss

    def train_updates(self, X, y, lr: float, batch_size: int | None = None,
                      count: int = 1, shuffle: bool = True) -> int:
        """``count`` updates, going on from where the last call stopped.

        Mini-batches are taken in order through the current epoch; when it
        runs out, the next epoch is shuffled and begins. Calls continue the
        same epoch while they pass the same ``X`` and ``y`` objects and
        batch size; other arrays start a new epoch. Updates of any count
        add up to the same weights as whole epochs of ``train_epoch``.

        Returns
        -------
        The number of epochs completed during this call.
        """
        count = _check_count("count", count, 0, None)
        epoch, lr = self._epoch_for(X, y, lr, batch_size)
        completed = 0
        while count:
            if epoch.cursor == len(epoch.batches):
                epoch.shuffle(self, shuffle)
            take = min(count, len(epoch.batches) - epoch.cursor)
            self._run_batches(epoch, take, lr)
            count -= take
            if epoch.cursor == len(epoch.batches):
                self.epochs += 1
                completed += 1
        return completed

    @property
    def epoch_progress(self) -> float:
        """How far the current epoch of ``train_updates`` has gone, 0 to 1."""
        epoch = self._epoch
        if epoch is None or epoch.cursor == len(epoch.batches):
            return 0.0
        return epoch.cursor / len(epoch.batches)

    def epoch_state(self) -> dict | None:
        """Where ``train_updates`` stands within its epoch: {"order": the
        permutation of the points the epoch visits, "cursor": the number of
        batches already taken, "batch_size": its batch size}; None before
        any epoch. With ``resume_epoch`` it lets a saved session continue
        exactly. (A finished epoch matters too: a full-batch epoch keeps its
        order for the next one.)"""
        epoch = self._epoch
        if epoch is None or epoch.order is None:
            return None
        return {"order": epoch.order.copy(), "cursor": epoch.cursor,
                "batch_size": epoch.batch}

    def resume_epoch(self, X, y, batch_size, order, cursor) -> None:
        """Continue an epoch of ``train_updates`` on (X, y): the points in
        ``order`` (a permutation of their indices), ``cursor`` batches of
        it already taken."""
        epoch, _ = self._epoch_for(X, y, 1.0, batch_size)
        order = np.asarray(order)
        if order.shape != (len(epoch.X),) or not np.array_equal(
                np.sort(order), np.arange(len(epoch.X))):
            raise ValueError(
                f"the epoch order must be a permutation of {len(epoch.X)} "
                "point indices")
        if not 0 <= int(cursor) <= len(epoch.batches):
            raise ValueError(
                f"the epoch has {len(epoch.batches)} batches, not {cursor}")
        epoch.lay_out(self, order.astype(np.int64))
        epoch.cursor = int(cursor)

    def _epoch_for(self, X, y, lr, batch_size):
        """The epoch layout for (X, y), checked, reused when possible."""
        lr = _check_lr(lr)
        n = len(X)
        if n == 0:
            raise ValueError("cannot train on an empty data set")
        batch = n if batch_size is None else _check_count(
            "batch size", batch_size, 1, None)
        batch = min(batch, n)
        epoch = self._epoch
        if epoch is not None and epoch.matches(X, y, batch):
            if not (_read_only(X) and _read_only(y)):
                self._check_data(X, y)  # the caller may have changed them
            return epoch, lr
        checked_X, checked_y = self._check_data(X, y)
        self._epoch = _Epoch(self, (X, y), checked_X, checked_y, batch)
        return self._epoch, lr

    def _run_batches(self, epoch, count, lr, measure=False):
        """Take ``count`` batches of ``epoch``; with ``measure``, return
        its mean loss (``_Epoch.mean_loss``) too, in the same quiet
        context, since its shorter formula may overflow."""
        return self._quietly(self._batches, epoch, count, lr, measure)

    def _batches(self, epoch, count, lr, measure):
        start = epoch.cursor
        try:
            self._train(epoch.batches[start: start + count], lr, epoch.X)
        finally:
            epoch.cursor = start + self._batches_done
        return epoch.mean_loss() if measure else None

    def _quietly(self, function, *args):
        """``function(*args)`` with numpy's floating-point warnings off
        (divergence is reported by ``_train``, not by numpy).

        It runs in a context of its own, made once, in which they are off:
        entering ``np.errstate`` takes a microsecond, a tenth of a small
        update. (So one model trains in one thread at a time.)
        """
        context = self._quiet_context
        if context is None:
            context = self._quiet_context = contextvars.copy_context()
            context.run(np.seterr, all="ignore")
        return context.run(function, *args)

    def _logits(self, X):
        """(n, outputs) logits through a compiled forward pass, a view into
        a buffer that the next call overwrites."""
        program = self._program(len(X))
        np.copyto(program.inputs_top, X.T)
        for call in program.ops[:program.n_forward]:
            call()
        return program.z_out.T

    def evaluate(self, X, y) -> tuple[float, float]:
        """(mean data loss, accuracy) on (X, y) from one forward pass.

        Accuracy is NaN for a regression task and for an empty set.
        """
        X, y = self._check_data(X, y)
        if len(y) == 0:
            return float("nan"), float("nan")
        z = self._logits(X)
        loss = float(self.head.point_losses(z, y).mean())
        if self.task == "binary":
            accuracy = float(((z[:, 0] >= 0.0) == (y == 1.0)).mean())
        elif self.task == "multiclass":
            accuracy = float((z.argmax(axis=1) == y).mean())
        else:
            accuracy = float("nan")
        return loss, accuracy

    def layer_outputs(self, X, dtype=np.float64) -> list[np.ndarray]:
        """Every layer's output for the rows of ``X``: one (n, units) array
        per hidden layer, then the head's (n, outputs) predictions."""
        X = self._check_inputs(X, dtype)
        if not len(X):
            return forward_layers(self.unflatten(self._theta),
                                  self.activations, self.task, X, dtype)
        forward = self._forward_pass(len(X), np.dtype(dtype))
        np.copyto(forward.weights, self._theta)
        with np.errstate(over="ignore", invalid="ignore"):
            forward.run(X)
            outputs = [layer.T.copy() for layer in forward.hidden]
            outputs.append(self._head_output(forward.logits.T.copy()))
        return [out if out.ndim == 2 else out[:, None] for out in outputs]

    def _program(self, n) -> _Program:
        program = self._programs.get(n)
        if program is None:
            if len(self._programs) >= _MAX_PROGRAMS:
                self._programs.clear()
            program = self._programs[n] = _Program(n, self)
        return program

    def _train(self, batches, lr, X):
        """Run compiled updates, each followed by an optimizer step.

        ``batches`` holds (calls, n, fused) triples from
        ``_Program.batch`` whose inputs are already loaded. This is the
        hot loop: it keeps everything in locals, and checks
        the weights once, at the end. A weight that turns NaN or infinite
        stays so through every later update (NaN and infinity survive
        products and sums), so one check at the end sees whether any
        update diverged. Only then are the updates replayed from a copy,
        one at a time and checked (``_train_checked``), to keep those
        before the first bad one: a replay computes the same numbers.
        """
        state, theta, grad = self._state, self._theta, self._grad
        update, buffers = self._optimizer.update, self._opt_buffers
        regularize = self._regularization != "none" and self._reg_rate > 0
        factor = self.head.delta_factor
        np.copyto(self._backup, state)
        self._has_backup = True
        first_step = self._opt_steps
        step = first_step
        self._batches_done = 0
        if type(self._optimizer) is SGD and not regularize:
            # The batches' fused calls take the optimizer's step too; the
            # step is SGD.update's own lr * scale, to the last bit.
            for _, n, _ in batches:
                self._sgd_steps[n][()] = lr * (factor / n)
            for _, _, fused in batches:
                for call in fused:
                    call()
            step += len(batches)
        else:
            for calls, n, _ in batches:
                for call in calls:
                    call()
                scale = factor / n
                if regularize:
                    self._add_penalty_gradient(scale)
                    scale = 1.0
                step += 1
                update(theta, grad, buffers, lr, scale, step)

        done = step - first_step
        self._opt_steps = step
        self.updates += done
        self._batches_done = done
        # The sum of the weights is finite exactly when all of them are
        # (short of an overflow near 1e308); a dot product is the cheapest
        # sum numpy offers.
        if not math.isfinite(theta.dot(self._ones)):
            np.copyto(state, self._backup)
            self._opt_steps = first_step
            self.updates -= done
            self._train_checked(batches, lr, X)
        # Undoing the last update means replaying all but it.
        self._replay = batches, lr, X

    def _train_checked(self, batches, lr, X):
        """``_train`` with a copy of the state before each update and a
        check after it: raises at the first update whose weights are not
        finite, with that update undone."""
        state, backup = self._state, self._backup
        theta, grad, ones = self._theta, self._grad, self._ones
        update, buffers = self._optimizer.update, self._opt_buffers
        regularize = self._regularization != "none" and self._reg_rate > 0
        factor = self.head.delta_factor
        self._replay = None
        self._batches_done = 0
        for calls, n, _ in batches:
            for call in calls:
                call()
            np.copyto(backup, state)
            scale = factor / n
            if regularize:
                self._add_penalty_gradient(scale)
                scale = 1.0
            self._opt_steps += 1
            update(theta, grad, buffers, lr, scale, self._opt_steps)
            self.updates += 1
            if not math.isfinite(theta.dot(ones)):
                self._undo(X, float("nan"))
            self._batches_done += 1

    def _add_penalty_gradient(self, scale):
        """grad = scale * grad + d(penalty)/d(theta)."""
        grad, penalty = self._grad, self._reg_scratch
        np.multiply(grad, scale, out=grad)
        if self._regularization == "l2":
            np.multiply(self._theta, self._weight_mask, out=penalty)
        else:
            np.sign(self._theta, out=penalty)
            np.multiply(penalty, self._weight_mask, out=penalty)
        np.multiply(penalty, self._reg_rate, out=penalty)
        np.add(grad, penalty, out=grad)

    def _undo(self, X, loss):
        """Restore the state before the last update, then raise: a
        ValueError if the inputs hold NaN or infinity, else
        NonFiniteLossError."""
        if self._has_backup:
            np.copyto(self._state, self._backup)
            self._has_backup = False
            if self._replay is None:  # the copy from before that update
                self._opt_steps -= 1
                self.updates -= 1
            else:  # the copy from before a run of updates
                batches, lr, inputs = self._replay
                self._opt_steps -= len(batches)
                self.updates -= len(batches)
                with np.errstate(all="ignore"):
                    self._train_checked(batches[:-1], lr, inputs)
                self._has_backup = False
            what = "the update that produced it was undone"
        else:
            what = "the initial weights already give it"
        if X is not None and not np.isfinite(X).all():
            raise ValueError("input X contains NaN or infinity")
        log.warning("non-finite loss (%s) after %d updates", loss, self.updates)
        raise NonFiniteLossError(
            f"training diverged: the loss became {loss} ({what}); "
            "try a smaller learning rate",
            self.updates,
        )

    # ------------------------------------------------------------------
    # Validation

    def _check_inputs(self, X, dtype=np.float64):
        """X as an (n, inputs) float array; float32 stays float32 when that
        is the ``dtype`` the caller computes in."""
        X = np.asarray(X)
        if X.dtype != dtype:
            X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.inputs:
            raise ValueError(
                f"X must have shape (n, {self.inputs}), got {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ValueError("input X contains NaN or infinity")
        return X

    def _check_data(self, X, y, cheap=False):
        if cheap:
            # The per-update path leaves NaN detection to the loss check.
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != self.inputs:
                raise ValueError(
                    f"X must have shape (n, {self.inputs}), got {X.shape}"
                )
        else:
            X = self._check_inputs(X)
        y = self.head.check_labels(y, self.outputs)
        if len(y) != len(X):
            raise ValueError(
                f"X has {len(X)} rows but y has {len(y)} labels"
            )
        return X, y

    def __repr__(self):
        acts = ",".join(a.name for a in self.activations)
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype}"
        return (f"MLP(sizes={self.sizes}, activation=[{acts}], "
                f"task={self.task!r}, seed={self.seed}{dtype})")


def forward_layers(params, activations, task, X, dtype=np.float64):
    """Every layer's output for the rows of ``X``, from bare parameters.

    Parameters
    ----------
    params : per layer (W (fan_in, fan_out), b (fan_out,)).
    activations : one name (or Activation) per hidden layer.
    task : the output head's task.
    X : (n, fan_in of the first layer) input features.

    Returns
    -------
    One (n, units) array per layer; the last holds the head's predictions.
    """
    head = get_head(task)
    acts = [get_activation(a) for a in activations]
    a = np.asarray(X, dtype=dtype)
    outs = []
    for layer, (weight, bias) in enumerate(params):
        z = a @ np.asarray(weight, dtype) + np.asarray(bias, dtype)
        a = acts[layer].value(z) if layer < len(acts) else head.output(z)
        outs.append(a)
    return outs


def _layer_activations(activation, n_hidden):
    if isinstance(activation, str):
        return tuple(get_activation(activation) for _ in range(n_hidden))
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(
            f"got {len(names)} activations for {n_hidden} hidden layers"
        )
    return tuple(get_activation(name) for name in names)


def _read_only(array):
    return isinstance(array, np.ndarray) and not array.flags.writeable


def _check_count(what, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{what} must be {bound}, got {value}")
    return value


def _check_real(what, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


def _check_lr(lr):
    if type(lr) is float and 0.0 < lr < math.inf:  # the common case, fast
        return lr
    lr = _check_real("learning rate", lr)
    if lr <= 0.0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return lr


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float64, np.float32):
        raise ValueError("dtype must be float64 or float32")
    return dtype


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    return int(seed)
