"""The classic Theano deep-learning tutorials' models, written the way those programs
write them (datasets in shared variables, a minibatch index with `givens`, updates as
(variable, new value) pairs, random corruption from a random stream), train on both
backends: a few SGD epochs on small MNIST-like data lower the cost, with the same costs
on the NumPy and C++ backends. The tutorials' models that need scan (rbm, DBN, lstm,
rnnslu, rnnrbm, hmc) are in test_tutorial_recurrent.py, the convolutional one in
test_convolutional_mlp.py."""
import numpy as np
import pytest
import scipy.optimize

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS

BATCH = 10
N_IN, N_CLASSES = 64, 10          # 8x8 images, ten digits


def digits(n=120, seed=0):
    """Noisy copies of ten random 8x8 prototypes, pixels in [0, 1], and their labels."""
    rng = np.random.default_rng(seed)
    protos = rng.random((N_CLASSES, N_IN)) ** 2
    labels = rng.integers(0, N_CLASSES, size=n)
    images = np.clip(protos[labels] + 0.15 * rng.standard_normal((n, N_IN)), 0.0, 1.0)
    return images, labels


def shared_dataset(images, labels):
    """Data lives in shared variables (one copy, sliced per minibatch); labels are stored as
    floats and used through an int32 cast, as the tutorials do for the GPU's sake."""
    xs = sn.shared(np.asarray(images, dtype="float64"), borrow=True)
    ys = sn.shared(np.asarray(labels, dtype="float64"), borrow=True)
    return xs, st.cast(ys, "int32")


def minibatch(data, index):
    return data[index * BATCH:(index + 1) * BATCH]


class SoftmaxClassifier:
    """Multi-class logistic regression: P(y | x) = softmax(x W + b)."""

    def __init__(self, inp, n_in, n_out, W=None, b=None):
        self.W = W if W is not None else sn.shared(np.zeros((n_in, n_out)), name="W", borrow=True)
        self.b = b if b is not None else sn.shared(np.zeros(n_out), name="b", borrow=True)
        self.p_y = st.softmax(st.dot(inp, self.W) + self.b)
        self.y_pred = st.argmax(self.p_y, axis=1)
        self.params = [self.W, self.b]

    def nll(self, y):
        """Mean negative log-likelihood of the labels (picked out by integer indexing)."""
        return -st.mean(st.log(self.p_y)[st.arange(y.shape[0]), y])

    def errors(self, y):
        return st.mean(st.neq(self.y_pred, y))


class Dense:
    """A fully connected layer; Glorot-uniform weights (4x larger for the sigmoid)."""

    def __init__(self, rng, inp, n_in, n_out, activation=st.tanh, W=None):
        if W is None:
            bound = np.sqrt(6.0 / (n_in + n_out)) * (4 if activation is st.sigmoid else 1)
            W = sn.shared(rng.uniform(-bound, bound, (n_in, n_out)), name="W", borrow=True)
        self.W, self.b = W, sn.shared(np.zeros(n_out), name="b", borrow=True)
        self.output = activation(st.dot(inp, self.W) + self.b)
        self.params = [self.W, self.b]


def sgd(cost, params, rate):
    return [(p, p - rate * g) for p, g in zip(params, sn.grad(cost, params))]


def epochs(train, n_batches, n_epochs, *extra):
    """Mean training cost per epoch, calling train(index, *extra) for every minibatch."""
    return [float(np.mean([train(i, *extra) for i in range(n_batches)])) for _ in range(n_epochs)]


def logistic_sgd(backend):
    images, labels = digits()
    train_x, train_y = shared_dataset(images, labels)
    index, x, y = st.lscalar("index"), st.dmatrix("x"), st.ivector("y")
    clf = SoftmaxClassifier(x, N_IN, N_CLASSES)
    cost = clf.nll(y)
    givens = {x: minibatch(train_x, index), y: minibatch(train_y, index)}
    train = sn.function([index], [cost, clf.errors(y)], updates=sgd(cost, clf.params, 0.5), givens=givens,
                        backend=backend)
    runs = [np.mean([train(i) for i in range(12)], axis=0) for _ in range(4)]   # (cost, error rate)
    assert runs[-1][1] < runs[0][1]
    return [c for c, _ in runs]


def logistic_cg(backend):
    """The weights as one flat vector, optimised by scipy's conjugate gradients through
    cost and gradient functions of a minibatch index."""
    images, labels = digits()
    train_x, train_y = shared_dataset(images, labels)
    index, x, y = st.lscalar("index"), st.dmatrix("x"), st.ivector("y")
    n_w = N_IN * N_CLASSES
    theta = sn.shared(np.zeros(n_w + N_CLASSES), name="theta", borrow=True)
    clf = SoftmaxClassifier(x, N_IN, N_CLASSES, W=theta[:n_w].reshape((N_IN, N_CLASSES)), b=theta[n_w:])
    cost = clf.nll(y)
    givens = {x: minibatch(train_x, index), y: minibatch(train_y, index)}
    batch_cost = sn.function([index], cost, givens=givens, backend=backend)
    batch_grad = sn.function([index], sn.grad(cost, theta), givens=givens, backend=backend)
    seen = []

    def total_cost(value):
        theta.set_value(value, borrow=True)
        seen.append(float(np.mean([batch_cost(i) for i in range(12)])))
        return seen[-1]

    def total_grad(value):
        theta.set_value(value, borrow=True)
        return np.mean([batch_grad(i) for i in range(12)], axis=0)

    best = scipy.optimize.fmin_cg(total_cost, np.zeros(n_w + N_CLASSES), fprime=total_grad, maxiter=4, disp=0)
    return [seen[0], total_cost(best)]


def mlp(backend):
    images, labels = digits()
    train_x, train_y = shared_dataset(images, labels)
    index, x, y = st.lscalar("index"), st.dmatrix("x"), st.ivector("y")
    rng = np.random.default_rng(1234)
    hidden = Dense(rng, x, N_IN, 32)
    out = SoftmaxClassifier(hidden.output, 32, N_CLASSES)
    l1 = abs(hidden.W).sum() + abs(out.W).sum()
    l2 = (hidden.W ** 2).sum() + (out.W ** 2).sum()
    cost = out.nll(y) + 1e-4 * l1 + 1e-4 * l2
    params = hidden.params + out.params
    train = sn.function([index], cost, updates=sgd(cost, params, 0.1),
                        givens={x: minibatch(train_x, index), y: minibatch(train_y, index)}, backend=backend)
    return epochs(train, 12, 4)


class Autoencoder:
    """Tied-weight autoencoder: denoising (a binomial mask drops inputs) or contractive (a
    penalty on the squared Jacobian of the code)."""

    def __init__(self, rng, draws, inp, n_visible, n_hidden, W=None, b_hid=None):
        bound = 4 * np.sqrt(6.0 / (n_visible + n_hidden))
        self.W = W if W is not None else sn.shared(rng.uniform(-bound, bound, (n_visible, n_hidden)), name="W")
        self.b_hid = b_hid if b_hid is not None else sn.shared(np.zeros(n_hidden), name="b_hid")
        self.b_vis = sn.shared(np.zeros(n_visible), name="b_vis")
        self.draws, self.x, self.n_visible, self.n_hidden = draws, inp, n_visible, n_hidden
        self.params = [self.W, self.b_hid, self.b_vis]

    def corrupt(self, inp, level):
        return self.draws.binomial(size=inp.shape, n=1, p=1 - level, dtype="float64") * inp

    def code(self, inp):
        return st.sigmoid(st.dot(inp, self.W) + self.b_hid)

    def reconstruct(self, code):
        return st.sigmoid(st.dot(code, self.W.T) + self.b_vis)

    def cross_entropy(self, recon):
        return -st.sum(self.x * st.log(recon) + (1 - self.x) * st.log(1 - recon), axis=1)

    def denoising_cost(self, level):
        return st.mean(self.cross_entropy(self.reconstruct(self.code(self.corrupt(self.x, level)))))

    def contractive_cost(self, contraction):
        h = self.code(self.x)
        jac = st.reshape(h * (1 - h), (BATCH, 1, self.n_hidden)) * st.reshape(self.W, (1, self.n_visible,
                                                                                         self.n_hidden))
        penalty = st.sum(jac ** 2) // BATCH      # the tutorial's floor division: no gradient
        return st.mean(self.cross_entropy(self.reconstruct(h))) + contraction * st.mean(penalty)


def dA(backend):
    images, _ = digits()
    train_x = sn.shared(images, borrow=True)
    index, x = st.lscalar("index"), st.dmatrix("x")
    ae = Autoencoder(np.random.default_rng(123), sn.RandomStream(2 ** 30), x, N_IN, 24)
    cost = ae.denoising_cost(0.3)
    train = sn.function([index], cost, updates=sgd(cost, ae.params, 0.1),
                        givens={x: minibatch(train_x, index)}, backend=backend)
    return epochs(train, 12, 4)


def cA(backend):
    images, _ = digits()
    train_x = sn.shared(images, borrow=True)
    index, x = st.lscalar("index"), st.dmatrix("x")
    ae = Autoencoder(np.random.default_rng(123), None, x, N_IN, 24)
    cost = ae.contractive_cost(0.1)
    train = sn.function([index], cost, updates=sgd(cost, ae.params, 0.1),
                        givens={x: minibatch(train_x, index)}, backend=backend)
    return epochs(train, 12, 4)


def SdA(backend):
    """Two sigmoid layers, each pretrained as a denoising autoencoder that shares its
    weights, then fine-tuned with a softmax layer on top; corruption level and learning rate
    are inputs of the pretraining functions."""
    images, labels = digits()
    train_x, train_y = shared_dataset(images, labels)
    index, x, y = st.lscalar("index"), st.dmatrix("x"), st.ivector("y")
    level, rate = st.dscalar("corruption"), st.dscalar("lr")
    rng, draws = np.random.default_rng(89677), sn.RandomStream(2 ** 30)
    layers, coders, inp, n_in = [], [], x, N_IN
    for n_out in (32, 16):
        layer = Dense(rng, inp, n_in, n_out, activation=st.sigmoid)
        coders.append(Autoencoder(rng, draws, inp, n_in, n_out, W=layer.W, b_hid=layer.b))
        layers.append(layer)
        inp, n_in = layer.output, n_out
    pretrain = []
    for ae in coders:
        cost = ae.denoising_cost(level)
        pretrain.append(epochs(sn.function([index, level, rate], cost, updates=sgd(cost, ae.params, rate),
                                           givens={x: minibatch(train_x, index)}, backend=backend),
                               12, 3, 0.2, 0.1))
    top = SoftmaxClassifier(inp, n_in, N_CLASSES)
    cost = top.nll(y)
    params = [p for layer in layers for p in layer.params] + top.params
    finetune = sn.function([index], cost, updates=sgd(cost, params, 0.1),
                           givens={x: minibatch(train_x, index), y: minibatch(train_y, index)}, backend=backend)
    return [c for run in pretrain for c in (run[0], run[-1])] + epochs(finetune, 12, 3)


MODELS = {"logistic_sgd": logistic_sgd, "logistic_cg": logistic_cg, "mlp": mlp, "dA": dA, "SdA": SdA, "cA": cA}


@pytest.mark.parametrize("model", MODELS)
def test_model_trains_alike_on_both_backends(model):
    costs = {}
    for backend in ("numpy", "cpp"):
        if not BACKENDS[backend].available()[0]:
            continue
        costs[backend] = np.array(MODELS[model](backend))
        assert np.all(np.isfinite(costs[backend]))
    ref = costs["numpy"]
    if model == "SdA":                  # each pretraining run, then the fine-tuning, goes down
        assert ref[1] < ref[0] and ref[3] < ref[2] and ref[-1] < ref[4]
    else:
        assert ref[-1] < ref[0]
    if "cpp" in costs:
        np.testing.assert_allclose(costs["cpp"], ref, rtol=1e-9)
