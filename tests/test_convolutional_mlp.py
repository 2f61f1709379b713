"""The convolutional network of the Theano tutorials (LeNet: conv2d -> pool_2d -> tanh twice,
then a tanh layer and a softmax classifier), in the tutorials' idioms: data in shared
variables, minibatches picked by an index through `givens`, SGD updates. It learns on
both backends."""
import numpy as np

import symnb as sn
import symnb.tensor as T
from symnb.tensor.nnet import conv2d
from symnb.tensor.signal import pool

BATCH, SIDE, CLASSES = 20, 16, 4
LR, EPOCHS = 0.3, 12


def quadrant_images(n, rng):
    """Noisy 16x16 images whose class is the quadrant holding a bright square."""
    x = rng.random((n, SIDE, SIDE)) * 0.3
    y = rng.integers(0, CLASSES, n)
    for k, c in enumerate(y):
        r, col = 2 + 8 * (c // 2) + rng.integers(0, 2), 2 + 8 * (c % 2) + rng.integers(0, 2)
        x[k, r:r + 4, col:col + 4] += 0.7
    return x.reshape(n, SIDE * SIDE), y


def conv_pool_layer(rng, inp, filter_shape, image_shape):
    """The tutorial's LeNetConvPoolLayer: returns the output and its parameters."""
    fan_in = np.prod(filter_shape[1:])
    fan_out = filter_shape[0] * np.prod(filter_shape[2:]) // 4
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    W = sn.shared(rng.uniform(-bound, bound, filter_shape))
    b = sn.shared(np.zeros(filter_shape[0]))
    conv_out = conv2d(input=inp, filters=W, filter_shape=filter_shape, input_shape=image_shape)
    pooled = pool.pool_2d(input=conv_out, ws=(2, 2), ignore_border=True)
    return T.tanh(pooled + b.dimshuffle("x", 0, "x", "x")), [W, b]


def test_lenet_learns_with_givens_minibatches(backend):
    rng = np.random.default_rng(1998)
    data_x, data_y = quadrant_images(4 * BATCH, rng)
    train_x = sn.shared(data_x)
    train_y = T.cast(sn.shared(data_y.astype("float64")), "int32")
    index, x, y = T.lscalar(), T.matrix("x"), T.ivector("y")

    layer0, p0 = conv_pool_layer(rng, x.reshape((BATCH, 1, SIDE, SIDE)), (6, 1, 5, 5), (BATCH, 1, SIDE, SIDE))
    layer1, p1 = conv_pool_layer(rng, layer0, (8, 6, 3, 3), (BATCH, 6, 6, 6))
    W2 = sn.shared(rng.uniform(-0.2, 0.2, (8 * 2 * 2, 20)))
    b2 = sn.shared(np.zeros(20))
    hidden = T.tanh(T.dot(layer1.flatten(2), W2) + b2)
    W3, b3 = sn.shared(np.zeros((20, CLASSES))), sn.shared(np.zeros(CLASSES))
    p_y = T.nnet.softmax(T.dot(hidden, W3) + b3)
    cost = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    errors = T.mean(T.neq(T.argmax(p_y, axis=1), y))
    params = p0 + p1 + [W2, b2, W3, b3]
    grads = sn.grad(cost, params)
    batch = {x: train_x[index * BATCH:(index + 1) * BATCH], y: train_y[index * BATCH:(index + 1) * BATCH]}
    train = sn.function([index], cost, updates=[(p, p - LR * g) for p, g in zip(params, grads)], givens=batch,
                        backend=backend)
    test = sn.function([index], [cost, errors], givens=batch, backend=backend)

    before = np.mean([test(i)[0] for i in range(4)])
    for epoch in range(EPOCHS):
        costs = [float(train(i)) for i in range(4)]
    after = [test(i) for i in range(4)]
    assert np.all(np.isfinite(costs))
    assert np.mean([c for c, _ in after]) < 0.3 * before
    assert np.mean([e for _, e in after]) < 0.2         # chance is 0.75
