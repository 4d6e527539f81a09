# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""nnfast._core: the binding between Python and the C core (src/nncore/).

Thin by design: each function checks shapes, takes C-contiguous arrays (float32 or float64, the
same for every array of one call) as typed memoryviews, or through the buffer protocol where a
call's own cost matters (gemm, a training handle's epochs, the predictions), releases the GIL
(but for a few microseconds of work), calls the core, and turns its status code into a Python
exception. Policy (defaults, label encoding, allocation of outputs) lives in the Python modules
above this one.
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_RECORDS_RO,
                             PyBUF_WRITABLE, PyBuffer_IsContiguous, PyBuffer_Release,
                             PyObject_GetBuffer)
from cpython.exc cimport PyErr_Occurred
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, strcmp

from nnfast._nncore cimport *

ctypedef fused real:
    float
    double

# The names' numbers live in nnfast.vocabulary; the core's enums must agree with them.
from nnfast.vocabulary import (ACTIVATION_CODES, INIT_CODES, LOSS_CODES, OPTIMIZER_CODES,
                               PRODUCTS_CODES)

CORE_ENUMS = (
    (ACTIVATION_CODES, {"identity": NN_ACT_IDENTITY, "step": NN_ACT_STEP,
                        "sigmoid": NN_ACT_SIGMOID, "tanh": NN_ACT_TANH, "relu": NN_ACT_RELU,
                        "softmax": NN_ACT_SOFTMAX, "exp": NN_ACT_EXP}),
    (LOSS_CODES, {"mse": NN_LOSS_MSE, "binary_cross_entropy": NN_LOSS_BCE,
                  "cross_entropy": NN_LOSS_CE, "mae": NN_LOSS_MAE, "huber": NN_LOSS_HUBER,
                  "poisson": NN_LOSS_POISSON}),
    (OPTIMIZER_CODES, {"sgd": NN_OPT_SGD, "adam": NN_OPT_ADAM}),
    (INIT_CODES, {"glorot": NN_INIT_GLOROT, "zeros": NN_INIT_ZEROS}),
    (PRODUCTS_CODES, {"native": NN_PRODUCTS_NATIVE, "bfloat16": NN_PRODUCTS_BF16}),
)
for vocabulary_codes, core_codes in CORE_ENUMS:
    if vocabulary_codes != core_codes:
        raise ImportError(f"nnfast.vocabulary's codes {vocabulary_codes} differ from the "
                          f"core's enum values {core_codes}: rebuild nnfast")
del CORE_ENUMS, vocabulary_codes, core_codes


cdef int check(int status) except -1 nogil:
    """Raise the Python exception for a core status code (callable without the GIL)."""
    if status == NN_OK:
        return 0
    with gil:
        raise_status(status)
    return -1


cdef int raise_status(int status) except -1:
    if status == NN_EINTR and PyErr_Occurred():
        return -1  # the KeyboardInterrupt (or other error) a signal handler raised
    message = "nncore: " + nn_strerror(status).decode()
    if status == NN_ENOMEM:
        raise MemoryError(message)
    if status == NN_ENONFINITE:
        raise FloatingPointError(message)
    raise ValueError(message)


cdef inline void expect(bint ok, str what) except *:
    if not ok:
        raise ValueError(what)


# ---- threads ------------------------------------------------------------------------------

def set_num_threads(int n):
    """Set the core's thread count; n <= 0 restores the default."""
    nn_set_num_threads(n)


def get_num_threads():
    return nn_get_num_threads()


def threading():
    """How the core's parallel loops run: "pool", "openmp" or "serial"."""
    return nn_threading().decode()


def build_info():
    """What the core was built with and chose at run time (kernels, CPU features, threads)."""
    cdef nn_build_info info
    nn_get_build_info(&info)
    return {"gemm_kernel_float32": info.gemm_kernel_f32.decode(),
            "gemm_kernel_float64": info.gemm_kernel_f64.decode(),
            "gemm_kernel_bfloat16": info.gemm_kernel_bf16.decode(),
            "vecmath_kernel": info.vecmath.decode(),
            "cpu_features": info.cpu_features.decode(), "compiler": info.compiler.decode(),
            "threading": info.threading.decode(), "native_build": bool(info.native_build),
            "num_threads": info.num_threads}


# ---- interrupts ---------------------------------------------------------------------------

cdef extern from "Python.h":
    # Declared without an exception clause: the callback leaves the KeyboardInterrupt set
    # for the binding to raise once the core has returned NN_EINTR.
    int run_signal_handlers "PyErr_CheckSignals"()


cdef struct SignalCheck:
    double next_check  # nn_seconds() after which the next check may take the GIL

cdef double SIGNAL_CHECK_INTERVAL = 0.05

cdef int python_signal_pending(void *ctx) noexcept nogil:
    """should_stop for the core: at most every 50 ms, take the GIL and run Python's signal
    handlers, so Ctrl-C stops a long fit between two batches."""
    cdef SignalCheck *check = <SignalCheck *>ctx
    cdef double now = nn_seconds()
    if now < check.next_check:
        return 0
    check.next_check = now + SIGNAL_CHECK_INTERVAL
    with gil:
        return run_signal_handlers() != 0


# ---- random stream --------------------------------------------------------------------------

def rng_permutation(int64_t[::1] order, uint64_t state):
    """Fill order with a fresh Fisher-Yates permutation of 0..n-1; return the new state."""
    with nogil:
        check(nn_rng_permutation(&order[0], order.shape[0], &state))
    return state


cdef const uint8_t *stream_flags(const int64_t[:, :, ::1] orders,
                                 const uint8_t[::1] active) except? NULL:
    """active's flags as a pointer (NULL for None: every stream), one per stream of orders
    (streams, m, n), after checking orders' shape."""
    expect(orders.shape[0] > 0 and orders.shape[2] > 0,
           "orders must be (streams, orders, n), n >= 1")
    if active is None:
        return NULL
    expect(active.shape[0] == orders.shape[0], "active must hold one flag per stream")
    return &active[0]


def mt19937_permutations(int64_t[:, :, ::1] orders, uint32_t[:, ::1] keys, int64_t[::1] pos,
                         const uint8_t[::1] active=None):
    """For each stream s (active[s] nonzero; None: all), fill orders[s] (m, n) with its next m
    numpy.random.RandomState permutation(n) orders, drawn from its MT19937 state keys[s] (624
    words) and pos[s], both advanced in place; the streams on the core's threads."""
    cdef int64_t c = orders.shape[0]
    cdef const uint8_t *a = stream_flags(orders, active)
    expect(keys.shape[0] == c and keys.shape[1] == 624 and pos.shape[0] == c,
           "keys must be (streams, 624) and pos (streams,): one MT19937 state per stream")
    if orders.shape[1] == 0:
        return
    with nogil:
        check(nn_mt19937_permutations(&orders[0, 0, 0], c, orders.shape[1], orders.shape[2], &keys[0, 0], &pos[0], a))


def sgd_dataset_orders(int64_t[:, :, ::1] orders, const uint32_t[::1] seeds,
                       int64_t[:, ::1] index, const uint8_t[::1] active=None):
    """For each stream s (active[s] nonzero; None: all), index[s] (n rows) shuffled m times in
    place as scikit-learn's SequentialDataset.shuffle(seeds[s]) shuffles it, each result
    written to orders[s] (m, n); the streams on the core's threads."""
    cdef int64_t c = orders.shape[0]
    cdef const uint8_t *a = stream_flags(orders, active)
    expect(seeds.shape[0] == c and index.shape[0] == c and index.shape[1] == orders.shape[2],
           "seeds must be (streams,) and index (streams, n): one dataset stream per stream")
    if orders.shape[1] == 0:
        return
    with nogil:
        check(nn_sgd_dataset_orders(&orders[0, 0, 0], c, orders.shape[1], orders.shape[2], &seeds[0], &index[0, 0], a))


def mt19937_shuffle(int64_t[::1] x, uint32_t[::1] key, int64_t[::1] pos):
    """x shuffled in place as numpy.random.RandomState.shuffle(x) shuffles it, drawn from the
    MT19937 state key (624 words) and pos[0], both advanced in place."""
    expect(key.shape[0] == 624 and pos.shape[0] == 1,
           "key must hold 624 words and pos one position: an MT19937 state")
    if x.shape[0] <= 1:
        return
    with nogil:
        check(nn_mt19937_shuffle(&x[0], x.shape[0], &key[0], &pos[0]))


def mt19937_seed(uint32_t[:, ::1] keys, int64_t[::1] pos, const uint32_t[::1] seeds):
    """keys[s] (624 words) and pos[s]: numpy.random.RandomState(seeds[s])'s MT19937 state."""
    cdef int64_t c = seeds.shape[0]
    expect(c > 0 and keys.shape[0] == c and keys.shape[1] == 624 and pos.shape[0] == c,
           "keys must be (seeds, 624) and pos (seeds,): one MT19937 state per seed")
    check(nn_mt19937_seed(&keys[0, 0], &pos[0], &seeds[0], c))


# ---- network description ---------------------------------------------------------------------

cdef class Net:
    """A network's shape and names, as the core's nn_net: sizes, the hidden layers'
    activation (one code, or hidden_acts: one code per hidden layer), the output's, the loss,
    the hidden layers' dropout rates (None: no dropout) and huber's delta."""
    cdef nn_net net
    cdef int64_t[::1] sizes_view
    cdef int[::1] acts_view
    cdef double[::1] dropout_view
    cdef readonly object sizes, hidden_acts, dropout
    cdef readonly int64_t n_params, n_inputs, n_outputs

    def __cinit__(self, sizes, int hidden, int output, int loss, hidden_acts=None,
                  dropout=None, double huber_delta=1.0):
        import numpy as np
        self.sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        self.sizes_view = self.sizes
        expect(self.sizes_view.shape[0] >= 2, "a network needs at least 2 layer sizes")
        self.net.n_layers = self.sizes_view.shape[0] - 1
        self.net.sizes = &self.sizes_view[0]
        self.net.hidden = <nn_act>hidden
        self.net.output = <nn_act>output
        self.net.loss = <nn_loss>loss
        self.net.huber_delta = huber_delta
        n_hidden = self.net.n_layers - 1
        if hidden_acts is not None and n_hidden > 0:
            # an enum is an int in C: the codes are read by the core as nn_act
            self.hidden_acts = np.ascontiguousarray(hidden_acts, dtype=np.intc)
            expect(self.hidden_acts.shape == (n_hidden,), "hidden_acts needs one code per "
                   "hidden layer")
            self.acts_view = self.hidden_acts
            self.net.hidden_acts = <const nn_act *>&self.acts_view[0]
        if dropout is not None and n_hidden > 0:
            self.dropout = np.ascontiguousarray(dropout, dtype=np.float64)
            expect(self.dropout.shape == (n_hidden,), "dropout needs one rate per hidden layer")
            self.dropout_view = self.dropout
            self.net.dropout = &self.dropout_view[0]
        check(nn_net_check(&self.net, &self.n_params))
        self.n_inputs = self.sizes_view[0]
        self.n_outputs = self.sizes_view[self.net.n_layers]


def init_params(real[::1] params, Net net, int init, uint64_t state):
    """Initialize params in place (glorot or zeros); return the new stream state."""
    expect(params.shape[0] == net.n_params, "params has the wrong length")
    with nogil:
        if real is float:
            check(nn_init_params_f32(&params[0], &net.net, <nn_init>init, &state))
        else:
            check(nn_init_params_f64(&params[0], &net.net, <nn_init>init, &state))
    return state


def forward(real[:, ::1] out, const real[::1] params, Net net, const real[:, ::1] X):
    """out (n, n_L) = the network's output activations for X (n, n_0)."""
    cdef int64_t n = X.shape[0]
    expect(params.shape[0] == net.n_params, "params has the wrong length")
    expect(X.shape[1] == net.n_inputs, "X has the wrong number of features")
    expect(out.shape[0] == n and out.shape[1] == net.n_outputs, "out has the wrong shape")
    with nogil:
        if real is float:
            check(nn_forward_f32(&out[0, 0], &params[0], &net.net, &X[0, 0], n))
        else:
            check(nn_forward_f64(&out[0, 0], &params[0], &net.net, &X[0, 0], n))


# ---- one call for a ready input: forward and predict in microseconds -------------------------
#
# try_forward and try_predict take X as the user passed it. When X is already what the core
# reads - an ndarray (not a subclass), C-contiguous and aligned, 2-D (n >= 1, n_inputs), of
# params' dtype, finite - they run the network on it in one call and return the result;
# otherwise (and when an output is not finite) they return None, and the caller takes the
# general path, which converts X or names what is wrong with it. The results are those of
# forward() bit for bit: the same core call on the same memory.

import numpy
cdef object ndarray = numpy.ndarray
cdef object new_array = numpy.empty
cdef object FLOAT64_TYPE = numpy.float64
cdef object FLOAT32_TYPE = numpy.float32
cdef object FLOAT64 = numpy.dtype(numpy.float64)
cdef object FLOAT32 = numpy.dtype(numpy.float32)
cdef object INTP = numpy.dtype(numpy.intp)
cdef object INT64 = numpy.dtype(numpy.int64)

# What try_predict returns, by rule (nnfast.models.mlp chooses the rule by loss).
cdef enum PredictRule:
    ARGMAX = 0     # the index of each row's largest output (its first, on a tie)
    THRESHOLD = 1  # 1 where an output is >= 0.5, else 0
    VALUES = 2     # the outputs themselves
PREDICT_ARGMAX, PREDICT_THRESHOLD, PREDICT_VALUES = ARGMAX, THRESHOLD, VALUES
# A one-output network's answers have shape (n,), others (n, n_outputs) (argmax: always (n,)).

# Up to this many multiply-adds (n * n_params, a few microseconds) the core runs with the GIL
# held: releasing and taking it back costs ~0.1-0.3 us, as much as a one-row forward of a
# small network; above, other Python threads run meanwhile.
cdef int64_t GIL_FREE_WORK = 1 << 12


cdef inline int float_size(const Py_buffer *view) noexcept:
    """8 for a native float64 buffer, 4 for float32, 0 for anything else."""
    cdef const char *fmt = view.format
    if fmt == NULL or fmt[0] == 0 or fmt[1] != 0:
        return 0
    return 8 if fmt[0] == b'd' else 4 if fmt[0] == b'f' else 0


cdef int acquire_ready(Py_buffer *x, object X, object dtype, int ndim, int64_t n_rows,
                       int64_t n_columns) except -1:
    """Acquire X's buffer and return 1 when X is an ndarray (not a subclass) of dtype (one of
    the dtype objects above), C-contiguous and aligned, with ndim dimensions: (n_rows,) or
    (n_rows, n_columns), a size of -1 standing for any size >= 1; else return 0, holding
    nothing. Values are not looked at."""
    if type(X) is not ndarray or (<object>X).dtype is not dtype:
        return 0  # also a byte-swapped float64, objects, datetimes (no buffer)
    PyObject_GetBuffer(X, x, PyBUF_RECORDS_RO)
    if (x.ndim != ndim or x.shape[0] < 1 or (n_rows >= 0 and x.shape[0] != n_rows)
            or (ndim == 2 and (x.shape[1] < 1 or (n_columns >= 0 and x.shape[1] != n_columns)))
            or not PyBuffer_IsContiguous(x, b'C') or <size_t>x.buf % x.itemsize != 0):
        PyBuffer_Release(x)
        return 0
    return 1


cdef int ready_buffers(Py_buffer *p, Py_buffer *x, Net net, object params,
                       object X) except -1:
    """Acquire params (p) and X (x); return their element size when the core can read X as it
    is (see try_forward), else release what was acquired and return 0 (always 0 for a net of
    None: a model without a native network)."""
    cdef int size
    if net is None:
        return 0
    if acquire_ready(x, X, FLOAT64, 2, -1, net.n_inputs):
        size = 8
    elif acquire_ready(x, X, FLOAT32, 2, -1, net.n_inputs):
        size = 4
    else:
        return 0
    try:
        PyObject_GetBuffer(params, p, PyBUF_RECORDS_RO)
    except BaseException:
        PyBuffer_Release(x)
        raise
    if (p.ndim != 1 or p.shape[0] != net.n_params or not PyBuffer_IsContiguous(p, b'C')
            or float_size(p) != size):
        PyBuffer_Release(p)
        PyBuffer_Release(x)
        return 0
    return size  # X's values are checked finite by the forward itself (forward_buffers)


cdef int forward_buffers(void *out, const Py_buffer *p, const Py_buffer *x, Net net,
                         int size) except -1:
    """out (n, n_outputs) = the network's outputs for the buffers; 1 when X and the outputs are
    all finite, 0 when one is not (NaN in X, or an overflow: the caller's general path reports
    it). The core checks each row chunk on the thread that computes it (nn_forward_finite)."""
    cdef int64_t n = x.shape[0]
    cdef int status
    if <double>n * net.n_params <= GIL_FREE_WORK:
        if size == 8:
            status = nn_forward_finite_f64(<double *>out, <const double *>p.buf, &net.net,
                                           <const double *>x.buf, n)
        else:
            status = nn_forward_finite_f32(<float *>out, <const float *>p.buf, &net.net,
                                           <const float *>x.buf, n)
    else:
        with nogil:
            if size == 8:
                status = nn_forward_finite_f64(<double *>out, <const double *>p.buf, &net.net,
                                               <const double *>x.buf, n)
            else:
                status = nn_forward_finite_f32(<float *>out, <const float *>p.buf, &net.net,
                                               <const float *>x.buf, n)
    if status == NN_ENONFINITE:
        return 0
    check(status)
    return 1


cdef object forward_ready(Net net, object params, object X):
    """try_forward: the outputs, or None."""
    cdef Py_buffer p, x, o
    cdef int size = ready_buffers(&p, &x, net, params, X)
    cdef int ok = 0
    if size == 0:
        return None
    try:
        out = new_array((x.shape[0], net.n_outputs), FLOAT64 if size == 8 else FLOAT32)
        PyObject_GetBuffer(out, &o, PyBUF_WRITABLE)
        try:
            ok = forward_buffers(o.buf, &p, &x, net, size)
        finally:
            PyBuffer_Release(&o)
    finally:
        PyBuffer_Release(&p)
        PyBuffer_Release(&x)
    return out if ok else None


def try_forward(Net net, params, X):
    """The output activations (n, n_outputs) for X, in one call, when X is a C-contiguous
    finite (n, n_inputs) ndarray of params' dtype and the outputs are finite; else (and for a
    net of None) None."""
    return forward_ready(net, params, X)


cdef void label_rows(int64_t *labels, const real *A, int64_t n, int64_t k,
                     int rule) noexcept nogil:
    """labels = argmax of each row of A (n, k), or A >= 0.5 (n * k values), by rule."""
    cdef int64_t i, j, best
    if rule == ARGMAX:
        for i in range(n):
            best = 0
            for j in range(1, k):
                if A[i * k + j] > A[i * k + best]:
                    best = j
            labels[i] = best
    else:
        for i in range(n * k):
            labels[i] = A[i] >= 0.5


def try_predict(Net net, params, X, int rule):
    """What predict answers for X by rule (PREDICT_*), in one call, under try_forward's
    conditions; else None."""
    cdef Py_buffer p, x, o
    cdef int64_t n, k
    cdef int size
    cdef double small[64]  # the outputs of a few rows, before they become labels
    cdef void *A = NULL
    if net is None:
        return None
    k = net.n_outputs
    if rule == VALUES:
        out = forward_ready(net, params, X)
        return out[:, 0] if out is not None and k == 1 else out
    expect(rule == ARGMAX or rule == THRESHOLD, "unknown predict rule")
    size = ready_buffers(&p, &x, net, params, X)
    if size == 0:
        return None
    n = x.shape[0]
    try:
        A = <void *>small if n * k <= 64 else PyMem_Malloc(n * k * size)
        if A == NULL:
            raise MemoryError()
        if not forward_buffers(A, &p, &x, net, size):
            return None
        if rule == ARGMAX:
            labels = new_array(n, INTP)
        else:
            labels = new_array(<object>n if k == 1 else (n, k), INT64)
        PyObject_GetBuffer(labels, &o, PyBUF_WRITABLE)
        if size == 8:
            label_rows(<int64_t *>o.buf, <const double *>A, n, k, rule)
        else:
            label_rows(<int64_t *>o.buf, <const float *>A, n, k, rule)
        PyBuffer_Release(&o)
    finally:
        if A != <void *>small:
            PyMem_Free(A)
        PyBuffer_Release(&p)
        PyBuffer_Release(&x)
    return labels


# ---- checks that need no conversion (nnfast._validation), rows in order (training) ---------

cdef bint all_within(const real *x, int64_t n, double low, double high) noexcept nogil:
    """True when every x[i] is finite and low <= x[i] <= high (the core reads a large x in
    chunks over its threads: nn_all_within)."""
    cdef int ok = 0
    cdef int status
    if real is float:
        status = nn_all_within_f32(&ok, x, n, low, high)
    else:
        status = nn_all_within_f64(&ok, x, n, low, high)
    return status == NN_OK and ok != 0


def ready_matrix(X, dtype, int64_t n_rows=-1, int64_t n_columns=-1, double low=-INFINITY,
                 double high=INFINITY):
    """True when X passes nnfast._validation's checks of a matrix as it is: an ndarray (not a
    subclass) of dtype ("float64", "float32" or their NumPy types), C-contiguous and aligned,
    of shape (n_rows, n_columns) (-1: any size >= 1), every value finite and in [low, high].
    False says nothing about X: the general check then converts it or names the problem."""
    cdef Py_buffer x
    cdef bint ok
    if dtype is FLOAT64 or dtype is FLOAT64_TYPE or dtype == "float64":
        dtype = FLOAT64
    elif dtype is FLOAT32 or dtype is FLOAT32_TYPE or dtype == "float32":
        dtype = FLOAT32
    else:
        return False
    if not acquire_ready(&x, X, dtype, 2, n_rows, n_columns):
        return False
    if dtype is FLOAT64:
        ok = all_within(<const double *>x.buf, x.shape[0] * x.shape[1], low, high)
    else:
        ok = all_within(<const float *>x.buf, x.shape[0] * x.shape[1], low, high)
    PyBuffer_Release(&x)
    return ok


def ready_vector(x, dtype, int64_t length=-1, double low=-INFINITY, double high=INFINITY):
    """True when x passes nnfast._validation's checks of a vector as it is: an ndarray (not a
    subclass) of dtype, C-contiguous and aligned, of shape (length,) (-1: any length >= 1),
    every value finite and in [low, high]. False says nothing about x (see ready_matrix)."""
    cdef Py_buffer v
    cdef bint ok
    if dtype is FLOAT64 or dtype is FLOAT64_TYPE or dtype == "float64":
        dtype = FLOAT64
    elif dtype is FLOAT32 or dtype is FLOAT32_TYPE or dtype == "float32":
        dtype = FLOAT32
    else:
        return False
    if not acquire_ready(&v, x, dtype, 1, length, -1):
        return False
    if dtype is FLOAT64:
        ok = all_within(<const double *>v.buf, v.shape[0], low, high)
    else:
        ok = all_within(<const float *>v.buf, v.shape[0], low, high)
    PyBuffer_Release(&v)
    return ok


def ready_indices(order, int64_t n):
    """True when order passes nnfast._validation.row_order as it is: an int64 ndarray (not a
    subclass) of shape (n,), C-contiguous and aligned, every value in [0, n)."""
    cdef Py_buffer o
    cdef const int64_t *index
    cdef int64_t i
    cdef bint ok = True
    if not acquire_ready(&o, order, INT64, 1, n, -1):
        return False
    index = <const int64_t *>o.buf
    for i in range(n):
        ok &= (index[i] >= 0) & (index[i] < n)
    PyBuffer_Release(&o)
    return ok


cdef object float_dtype(object dtype):
    """FLOAT64 or FLOAT32 for a dtype given as a name, NumPy type or dtype; else None."""
    if dtype is FLOAT64 or dtype is FLOAT64_TYPE or dtype == "float64":
        return FLOAT64
    if dtype is FLOAT32 or dtype is FLOAT32_TYPE or dtype == "float32":
        return FLOAT32
    return None


def one_hot(y, int64_t n_classes, dtype):
    """The (n, n_classes) one-hot rows of dtype ("float64" or "float32") of class indices y,
    when y passes nnfast._validation.targets' checks of class indices as it is: an int64
    ndarray (not a subclass) of shape (n,), C-contiguous and aligned, every value in
    [0, n_classes). Else None (the general check then names the problem)."""
    cdef Py_buffer v, o
    cdef const int64_t *label
    cdef int64_t i, n
    cdef bint ok = True
    dtype = float_dtype(dtype)
    if dtype is None or n_classes < 1 or not acquire_ready(&v, y, INT64, 1, -1, -1):
        return None
    try:
        n = v.shape[0]
        label = <const int64_t *>v.buf
        for i in range(n):
            ok &= (label[i] >= 0) & (label[i] < n_classes)
        if not ok:
            return None
        out = numpy.zeros((n, n_classes), dtype)
        PyObject_GetBuffer(out, &o, PyBUF_WRITABLE)
        if dtype is FLOAT64:
            for i in range(n):
                (<double *>o.buf)[i * n_classes + label[i]] = 1
        else:
            for i in range(n):
                (<float *>o.buf)[i * n_classes + label[i]] = 1
        PyBuffer_Release(&o)
    finally:
        PyBuffer_Release(&v)
    return out


def gather_rows(out, A, order):
    """out[i] = A[order[i]] for every i: rows of A (n, k) in the order of int64 indices
    (m,), into out (m, k); A and out C-contiguous, of one dtype. One call for what two NumPy
    calls (np.take into out) do in ~2 us on small arrays; every index is checked."""
    cdef Py_buffer views[3]  # out, A, order
    cdef const int64_t *index
    cdef int64_t i, j, row_bytes
    memset(views, 0, sizeof(views))  # each is released in `finally`, acquired or not
    try:
        PyObject_GetBuffer(out, &views[0], PyBUF_RECORDS_RO | PyBUF_WRITABLE)
        PyObject_GetBuffer(A, &views[1], PyBUF_RECORDS_RO)
        PyObject_GetBuffer(order, &views[2], PyBUF_RECORDS_RO)
        expect(views[0].ndim == 2 and views[1].ndim == 2
               and PyBuffer_IsContiguous(&views[0], b'C')
               and PyBuffer_IsContiguous(&views[1], b'C'),
               "out and A must be C-contiguous 2-D arrays")
        expect(views[0].itemsize == views[1].itemsize and views[0].format != NULL
               and views[1].format != NULL and strcmp(views[0].format, views[1].format) == 0,
               "out and A must have the same dtype")
        expect(views[2].ndim == 1 and views[2].itemsize == 8 and views[2].format != NULL
               and views[2].format[0] in b'lq' and views[2].format[1] == 0
               and PyBuffer_IsContiguous(&views[2], b'C'),
               "order must be a contiguous 1-D int64 array")
        expect(views[0].shape[0] == views[2].shape[0] and views[0].shape[1] == views[1].shape[1],
               "out must have one row per index and A's columns")
        index = <const int64_t *>views[2].buf
        row_bytes = views[1].shape[1] * views[1].itemsize
        for i in range(views[2].shape[0]):
            j = index[i]
            expect(0 <= j < views[1].shape[0], "order holds an index out of range")
            memcpy(<char *>views[0].buf + i * row_bytes,
                   <const char *>views[1].buf + j * row_bytes, row_bytes)
    finally:
        for i in range(3):
            PyBuffer_Release(&views[i])


def loss_gradient(const real[::1] params, Net net, const real[:, ::1] X, const real[:, ::1] Y,
                  double alpha, real[::1] grads=None, const double[::1] sample_weight=None):
    """Return the batch loss of (X, Y); fill grads (n_params) with its gradient if not None.
    With sample_weight (n,): the weighted mean loss, L2 term divided by the weights' sum."""
    cdef double loss = 0.0
    cdef real *g = NULL
    cdef const double *sw = NULL
    cdef int64_t n = X.shape[0]
    expect(params.shape[0] == net.n_params, "params has the wrong length")
    expect(X.shape[1] == net.n_inputs, "X has the wrong number of features")
    expect(Y.shape[0] == n and Y.shape[1] == net.n_outputs, "Y has the wrong shape")
    if grads is not None:
        expect(grads.shape[0] == net.n_params, "grads has the wrong length")
        g = &grads[0]
    if sample_weight is not None:
        expect(sample_weight.shape[0] == n, "sample_weight must have one value per row of X")
        sw = &sample_weight[0]
    with nogil:
        if real is float:
            check(nn_weighted_loss_gradient_f32(&loss, g, &params[0], &net.net, &X[0, 0], &Y[0, 0], sw, n, alpha))
        else:
            check(nn_weighted_loss_gradient_f64(&loss, g, &params[0], &net.net, &X[0, 0], &Y[0, 0], sw, n, alpha))
    return loss


cdef int acquire_floats(Py_buffer *view, object array, int size, int64_t n0, int64_t n1,
                        str name, bint writable=False) except -1:
    """Acquire array's buffer (writable if asked): C-contiguous aligned floats of `size` bytes
    (8: float64, 4: float32) of shape (n0,), or (n0, n1) when n1 >= 0; else raise a
    ValueError naming it (NumPy's own for a read-only array), holding nothing."""
    PyObject_GetBuffer(array, view, PyBUF_RECORDS_RO | (PyBUF_WRITABLE if writable else 0))
    if (float_buffer_problem(view, array, size, 1 if n1 < 0 else 2) is not None
            or view.shape[0] != n0 or (n1 >= 0 and view.shape[1] != n1)):
        PyBuffer_Release(view)
        shape = f"({n0},)" if n1 < 0 else f"({n0}, {n1})"
        raise ValueError(f"{name} must be a C-contiguous float{size * 8} array of shape {shape}")
    return 0


cdef class Trainer:
    """The buffers of one fit (allocated once) and the per-epoch call into the core."""
    cdef Net net
    cdef nn_fit_config cfg
    cdef nn_workspace_f32 *ws32
    cdef nn_workspace_f64 *ws64
    cdef readonly object dtype
    cdef readonly int64_t n_samples

    def __cinit__(self, Net net, dtype, int64_t n_samples, int64_t batch_size, settings,
                  products="native"):
        """settings: a FitSettings (nnfast.models.training), checked there; batch_size is
        its batch size clipped to 1..n_samples; products: the training products' precision,
        "native" (dtype's) or "bfloat16" (float32 only)."""
        cdef nn_opt optimizer = <nn_opt>OPTIMIZER_CODES[settings.optimizer]
        self.net = net
        self.dtype = str(dtype)
        self.n_samples = n_samples
        self.cfg.optimizer = optimizer
        self.cfg.lr = settings.lr
        self.cfg.momentum = settings.momentum
        self.cfg.nesterov = settings.nesterov
        self.cfg.beta1 = settings.beta1
        self.cfg.beta2 = settings.beta2
        self.cfg.epsilon = settings.epsilon
        self.cfg.alpha = settings.alpha
        self.cfg.loss_alpha = settings.alpha if settings.loss_alpha is None else settings.loss_alpha
        self.cfg.shuffle = settings.shuffle
        if products not in PRODUCTS_CODES:
            raise ValueError(f"products must be one of {sorted(PRODUCTS_CODES)}, got {products!r}")
        self.cfg.products = <nn_products>PRODUCTS_CODES[products]
        if self.cfg.products == NN_PRODUCTS_BF16 and self.dtype != "float32":
            raise ValueError(f"bfloat16 products train float32 parameters, got dtype {dtype}")
        if self.dtype == "float32":
            with nogil:
                check(nn_workspace_create_f32(&self.ws32, &net.net, n_samples, batch_size,
                                              optimizer))
        elif self.dtype == "float64":
            with nogil:
                check(nn_workspace_create_f64(&self.ws64, &net.net, n_samples, batch_size,
                                              optimizer))
        else:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")

    def __dealloc__(self):
        if self.ws32 != NULL:
            nn_workspace_free_f32(self.ws32)
        if self.ws64 != NULL:
            nn_workspace_free_f64(self.ws64)

    @property
    def lr(self):
        """The learning rate of the next epochs; set it between calls for a schedule."""
        return self.cfg.lr

    @lr.setter
    def lr(self, double value):
        self.cfg.lr = value  # checked by the caller (nnfast.models.training)

    @property
    def engine(self):
        """Which engine the core trains with: "neuron" (one neuron, full batch: every epoch
        of a call in one loop), "fused" (a small network's whole step in one pass) or
        "general" (layer by layer through the GEMM). The same math in each."""
        if self.ws32 != NULL:
            return nn_workspace_engine_f32(self.ws32, &self.cfg).decode()
        return nn_workspace_engine_f64(self.ws64, &self.cfg).decode()

    def _optimizer_views(self):
        """NumPy views (state1, state2 or None, step as a 1-element array) of the optimizer
        state in the workspace: sgd velocity; adam moments and step count."""
        import numpy as np
        cdef int64_t *step
        cdef int64_t n_params
        cdef float *a32
        cdef float *b32
        cdef double *a64
        cdef double *b64
        if self.ws32 != NULL:
            check(nn_workspace_optimizer_state_f32(self.ws32, &a32, &b32, &step, &n_params))
            s1 = np.asarray(<float[:n_params]>a32)
            s2 = np.asarray(<float[:n_params]>b32) if b32 != NULL else None
        else:
            check(nn_workspace_optimizer_state_f64(self.ws64, &a64, &b64, &step, &n_params))
            s1 = np.asarray(<double[:n_params]>a64)
            s2 = np.asarray(<double[:n_params]>b64) if b64 != NULL else None
        return s1, s2, np.asarray(<int64_t[:1]>step)

    def get_optimizer_state(self):
        """(state1, state2 or None, step): copies of the optimizer state the trainer carries
        from batch to batch and call to call (sgd velocity; adam moments and step count)."""
        s1, s2, step = self._optimizer_views()
        return s1.copy(), None if s2 is None else s2.copy(), int(step[0])

    def set_optimizer_state(self, state1, state2, int64_t step):
        """Restore what get_optimizer_state returned (same optimizer, dtype and network).
        Everything is checked before anything is written."""
        import numpy as np
        dst1, dst2, dst_step = self._optimizer_views()
        expect(np.shape(state1) == dst1.shape, "state1 has the wrong length")
        expect((state2 is None) == (dst2 is None), "state2 does not match the optimizer")
        expect(dst2 is None or np.shape(state2) == dst2.shape, "state2 has the wrong length")
        expect(step >= 0, "step must be >= 0")
        dst1[:] = state1
        if dst2 is not None:
            dst2[:] = state2
        dst_step[0] = step

    def epochs(self, params, X, Y, uint64_t state, int64_t epochs, sample_weight=None,
               order=None):
        """Train `epochs` epochs in place in one call into the core; return
        (loss of each epoch as a float64 ndarray (epochs,), new stream state). params (n_params), X (n_samples, n_inputs)
        and Y (n_samples, n_outputs) are C-contiguous arrays of the trainer's dtype;
        sample_weight (n_samples,) float64 weighs each row; order (n_samples,) int64, the rows'
        order for settings without shuffle (see nn_fit_config). Ctrl-C raises
        KeyboardInterrupt between batches; params then hold a partial run (the caller trains
        a copy). A non-finite loss raises FloatingPointError with `epochs_done`, the epochs of
        this call completed before it.

        The arrays are read through the buffer protocol, without typed memoryviews: an epoch
        of a small network takes about a microsecond, as much as making three memoryviews."""
        cdef Py_buffer views[6]  # params, X, Y, sample_weight, the losses returned, order
        cdef Py_buffer *p = &views[0]
        cdef Py_buffer *x = &views[1]
        cdef Py_buffer *y = &views[2]
        cdef Py_buffer *w = &views[3]
        cdef int size = 4 if self.ws32 != NULL else 8
        cdef int64_t n = self.n_samples, done = 0, i
        cdef int status
        cdef bint free_gil
        cdef SignalCheck signal_check
        cdef double *curve
        cdef const double *sw = NULL
        expect(epochs >= 1, "epochs must be at least 1")
        memset(views, 0, sizeof(views))  # each is released in `finally`, acquired or not
        # the core writes each epoch's loss straight into the array returned
        losses = new_array(epochs, FLOAT64)
        try:
            PyObject_GetBuffer(losses, &views[4], PyBUF_WRITABLE)
            curve = <double *>views[4].buf
            acquire_floats(p, params, size, self.net.n_params, -1, "params", True)
            acquire_floats(x, X, size, n, self.net.n_inputs, "X")
            acquire_floats(y, Y, size, n, self.net.n_outputs, "Y")
            if sample_weight is not None:
                acquire_floats(w, sample_weight, 8, n, -1, "sample_weight")
                sw = <const double *>w.buf
            if order is not None:
                PyObject_GetBuffer(order, &views[5], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
                expect(views[5].itemsize == 8 and views[5].format[0] in b"ql" and
                       views[5].len == n * 8, f"order must be {n} int64 row indices")
                self.cfg.order = <const int64_t *>views[5].buf
            signal_check.next_check = nn_seconds() + SIGNAL_CHECK_INTERVAL
            self.cfg.should_stop = python_signal_pending
            self.cfg.stop_ctx = &signal_check
            # a few microseconds of work run with the GIL held (see GIL_FREE_WORK)
            free_gil = <double>n * self.net.n_params * epochs > GIL_FREE_WORK
            if size == 4:
                nn_workspace_set_sample_weight_f32(self.ws32, sw)
                if free_gil:
                    with nogil:
                        status = self.train_f32(<float *>p.buf, curve, &done, <float *>x.buf,
                                                <float *>y.buf, n, epochs, &state)
                else:
                    status = self.train_f32(<float *>p.buf, curve, &done, <float *>x.buf,
                                            <float *>y.buf, n, epochs, &state)
                nn_workspace_set_sample_weight_f32(self.ws32, NULL)
            else:
                nn_workspace_set_sample_weight_f64(self.ws64, sw)
                if free_gil:
                    with nogil:
                        status = self.train_f64(<double *>p.buf, curve, &done, <double *>x.buf,
                                                <double *>y.buf, n, epochs, &state)
                else:
                    status = self.train_f64(<double *>p.buf, curve, &done, <double *>x.buf,
                                            <double *>y.buf, n, epochs, &state)
                nn_workspace_set_sample_weight_f64(self.ws64, NULL)
            if status == NN_ENONFINITE:
                error = FloatingPointError("nncore: " + nn_strerror(status).decode())
                error.epochs_done = done
                raise error
            check(status)
        finally:
            self.cfg.should_stop = NULL
            self.cfg.stop_ctx = NULL
            self.cfg.order = NULL
            for i in range(6):
                PyBuffer_Release(&views[i])
        return losses, state

    cdef int train_f32(self, float *params, double *curve, int64_t *done, const float *X,
                       const float *Y, int64_t n, int64_t epochs, uint64_t *state) noexcept nogil:
        return nn_train_epochs_f32(params, curve, done, self.ws32, &self.net.net, &self.cfg,
                                   X, Y, n, epochs, state)

    cdef int train_f64(self, double *params, double *curve, int64_t *done, const double *X,
                       const double *Y, int64_t n, int64_t epochs, uint64_t *state) noexcept nogil:
        return nn_train_epochs_f64(params, curve, done, self.ws64, &self.net.net, &self.cfg,
                                   X, Y, n, epochs, state)


# ---- kernels, for nnfast.ops --------------------------------------------------------------

# Up to this many multiply-adds (m n k) gemm runs with the GIL held (see GIL_FREE_WORK): the
# product takes 3 us at most, and releasing and taking back the GIL costs ~0.05 us (float64
# 64 x 10 x 128, just above: 3.92-3.94 us a call with the GIL held, 3.95-4.00 released).
cdef int64_t GEMM_GIL_FREE_WORK = 1 << 16


cdef str float_buffer_problem(const Py_buffer *view, object array, int size, int ndim):
    """None when view (array's buffer) holds C-contiguous aligned native floats of `size`
    bytes (0: float32 or float64) with ndim dimensions; else what is wrong with it."""
    cdef int got = float_size(view)
    if got == 0 or (size != 0 and got != size):
        dtype = getattr(array, "dtype", None)
        if got == 0 and dtype is not None and (dtype == FLOAT64 or dtype == FLOAT32):
            return "not aligned to its element size"  # NumPy's format "=d" or "=f"
        if dtype is None:  # a buffer that is not an ndarray: its struct format
            dtype = "format " + repr(view.format.decode() if view.format != NULL else "B")
        expected = f"float{size * 8}" if size else "float32 or float64"
        return f"dtype mismatch: {expected} expected, got {dtype}"
    if view.ndim != ndim:
        return f"{ndim} dimensions expected, got {view.ndim}"
    if not PyBuffer_IsContiguous(view, b'C'):
        return "not C-contiguous"
    if <size_t>view.buf % got != 0:
        return "not aligned to its element size"
    return None


cdef int acquire_operand(Py_buffer *view, object array, int size, int ndim, str name,
                         bint writable=False) except -1:
    """Acquire array's buffer (writable if asked) when it passes float_buffer_problem and
    return its item size; else raise naming the array and the problem (a ValueError, NumPy's
    own for a read-only array asked to be writable; a TypeError for an object without
    buffer), holding nothing. Typed memoryviews cost ~0.2 us each to make: a third of a
    64 x 10 x 128 product's call."""
    try:
        PyObject_GetBuffer(array, view, PyBUF_RECORDS_RO | (PyBUF_WRITABLE if writable else 0))
    except (BufferError, TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from None
    problem = float_buffer_problem(view, array, size, ndim)
    if problem is not None:
        PyBuffer_Release(view)
        raise ValueError(f"{name}: {problem}")
    return float_size(view)


cdef int gemm_views(const Py_buffer *v, int size, int64_t k, bint trans_a, bint trans_b,
                    double alpha, double beta, int act, int deriv_act, bint naive,
                    bint bf16) noexcept nogil:
    """The core's product on gemm's buffers v: C, A, B, bias, deriv_of (NULL buf: none)."""
    cdef int64_t m = v[0].shape[0], n = v[0].shape[1]
    cdef nn_epilogue_f32 e32
    cdef nn_epilogue_f64 e64
    if size == 4:
        e32.bias = <const float *>v[3].buf
        e32.act = <nn_act>act
        e32.deriv_of = <const float *>v[4].buf
        e32.deriv_act = <nn_act>deriv_act
        if naive:
            return nn_gemm_naive_f32(<float *>v[0].buf, <const float *>v[1].buf,
                                     <const float *>v[2].buf, m, n, k, trans_a, trans_b,
                                     <float>alpha, <float>beta, &e32)
        if bf16:
            return nn_gemm_bf16_f32(<float *>v[0].buf, <const float *>v[1].buf,
                                    <const float *>v[2].buf, m, n, k, trans_a, trans_b,
                                    <float>alpha, <float>beta, &e32)
        return nn_gemm_f32(<float *>v[0].buf, <const float *>v[1].buf, <const float *>v[2].buf,
                           m, n, k, trans_a, trans_b, <float>alpha, <float>beta, &e32)
    e64.bias = <const double *>v[3].buf
    e64.act = <nn_act>act
    e64.deriv_of = <const double *>v[4].buf
    e64.deriv_act = <nn_act>deriv_act
    if naive:
        return nn_gemm_naive_f64(<double *>v[0].buf, <const double *>v[1].buf,
                                 <const double *>v[2].buf, m, n, k, trans_a, trans_b, alpha,
                                 beta, &e64)
    return nn_gemm_f64(<double *>v[0].buf, <const double *>v[1].buf, <const double *>v[2].buf,
                       m, n, k, trans_a, trans_b, alpha, beta, &e64)


cdef int64_t _gemm_k(int64_t m, int64_t n, int64_t a0, int64_t a1, int64_t b0, int64_t b1,
                     bint trans_a, bint trans_b, int64_t bias_n, int64_t d0,
                     int64_t d1) except -1:
    """op(A)'s columns, k, after the shapes' checks (bias_n, d0 < 0: not given)."""
    cdef int64_t k = a0 if trans_a else a1
    expect(m > 0 and n > 0 and k > 0, f"gemm's sizes must be >= 1, not m {m}, n {n}, k {k}")
    expect((a1 if trans_a else a0) == m, "op(A) must have as many rows as C")
    expect((b1 if trans_b else b0) == k, "op(A) columns must match op(B) rows")
    expect((b0 if trans_b else b1) == n, "op(B) must have as many columns as C")
    if bias_n >= 0:
        expect(bias_n == n, "bias must have one value per column of C")
    if d0 >= 0:
        expect(d0 == m and d1 == n, "deriv_of must be shaped as C")
    return k


def gemm(C, A, B, bint trans_a=False, bint trans_b=False, double alpha=1.0, double beta=0.0,
         bias=None, int act=NN_ACT_IDENTITY, deriv_of=None, int deriv_act=NN_ACT_IDENTITY,
         bint naive=False, bint bf16=False):
    """C = alpha op(A) @ op(B) + beta C, then the epilogue (bias, act, derivative); float32 or
    float64 by C's item size, the other arrays of the same type (else ValueError). bf16: the
    products in bfloat16 (nn_gemm_bf16_f32: op(A) and op(B) rounded, float32 sums), float32
    only. The arrays are read through the buffer protocol (acquire_operand says why)."""
    cdef Py_buffer views[5]  # C, A, B, bias, deriv_of
    cdef int size, status, i
    cdef int64_t k
    if bf16 and naive:
        raise ValueError("bf16 and naive exclude each other")
    memset(views, 0, sizeof(views))  # each is released in `finally`, acquired or not
    try:
        size = acquire_operand(&views[0], C, 0, 2, "C", True)
        if bf16 and size != 4:
            raise ValueError(f"bf16 products take float32 arrays; C is float64")
        acquire_operand(&views[1], A, size, 2, "A")
        acquire_operand(&views[2], B, size, 2, "B")
        if bias is not None:
            acquire_operand(&views[3], bias, size, 1, "bias")
        if deriv_of is not None:
            acquire_operand(&views[4], deriv_of, size, 2, "deriv_of")
        k = _gemm_k(views[0].shape[0], views[0].shape[1], views[1].shape[0], views[1].shape[1],
                    views[2].shape[0], views[2].shape[1], trans_a, trans_b,
                    views[3].shape[0] if bias is not None else -1,
                    views[4].shape[0] if deriv_of is not None else -1,
                    views[4].shape[1] if deriv_of is not None else -1)
        if <double>views[0].shape[0] * views[0].shape[1] * k <= GEMM_GIL_FREE_WORK:
            status = gemm_views(views, size, k, trans_a, trans_b, alpha, beta, act, deriv_act,
                                naive, bf16)
        else:
            with nogil:
                status = gemm_views(views, size, k, trans_a, trans_b, alpha, beta, act,
                                    deriv_act, naive, bf16)
        check(status)
    finally:
        for i in range(5):
            PyBuffer_Release(&views[i])


def activation_forward(real[:, ::1] A, const real[:, ::1] Z, int act):
    """A = f(Z) (softmax row-wise)."""
    expect(A.shape[0] == Z.shape[0] and A.shape[1] == Z.shape[1], "A must be shaped as Z")
    with nogil:
        if real is float:
            check(nn_activation_forward_f32(&A[0, 0], &Z[0, 0], Z.shape[0], Z.shape[1], <nn_act>act))
        else:
            check(nn_activation_forward_f64(&A[0, 0], &Z[0, 0], Z.shape[0], Z.shape[1], <nn_act>act))


def activation_backward(real[:, ::1] G_out, const real[:, ::1] A, const real[:, ::1] G, int act):
    """G_out = G * f'(A), f' written from the output A."""
    expect(A.shape[0] == G.shape[0] and A.shape[1] == G.shape[1], "G must be shaped as A")
    expect(G_out.shape[0] == G.shape[0] and G_out.shape[1] == G.shape[1], "G_out must be shaped as G")
    with nogil:
        if real is float:
            check(nn_activation_backward_f32(&G_out[0, 0], &A[0, 0], &G[0, 0], A.shape[0], A.shape[1], <nn_act>act))
        else:
            check(nn_activation_backward_f64(&G_out[0, 0], &A[0, 0], &G[0, 0], A.shape[0], A.shape[1], <nn_act>act))


def dense_forward(real[:, ::1] A_out, real[:, ::1] Z_out, const real[:, ::1] A,
                  const real[:, ::1] W, const real[::1] b, int act):
    """Z = A @ W + b, A_out = f(Z); Z_out receives Z when not None."""
    cdef int64_t m = A.shape[0], k = A.shape[1], n = W.shape[1]
    cdef real *z = NULL
    expect(W.shape[0] == k, "W must have one row per column of A")
    expect(b.shape[0] == n, "b must have one value per column of W")
    expect(A_out.shape[0] == m and A_out.shape[1] == n, "A_out has the wrong shape")
    if Z_out is not None:
        expect(Z_out.shape[0] == m and Z_out.shape[1] == n, "Z_out has the wrong shape")
        z = &Z_out[0, 0]
    with nogil:
        if real is float:
            check(nn_dense_forward_f32(&A_out[0, 0], z, &A[0, 0], &W[0, 0], &b[0], m, k, n, <nn_act>act))
        else:
            check(nn_dense_forward_f64(&A_out[0, 0], z, &A[0, 0], &W[0, 0], &b[0], m, k, n, <nn_act>act))


def dense_backward(real[:, ::1] dW, real[::1] db, real[:, ::1] delta_prev,
                   const real[:, ::1] A_prev, const real[:, ::1] W, const real[:, ::1] delta,
                   int act_prev):
    """dW += A_prev^T delta / m; db += sum(delta) / m; delta_prev = (delta W^T) * f'(A_prev)."""
    cdef int64_t m = delta.shape[0], k = A_prev.shape[1], n = delta.shape[1]
    cdef real *dp = NULL
    expect(A_prev.shape[0] == m, "A_prev and delta must have the same number of rows")
    expect(W.shape[0] == k and W.shape[1] == n, "W must be (A_prev columns, delta columns)")
    expect(dW.shape[0] == k and dW.shape[1] == n, "dW must be shaped as W")
    expect(db.shape[0] == n, "db must have one value per column of delta")
    if delta_prev is not None:
        expect(delta_prev.shape[0] == m and delta_prev.shape[1] == k, "delta_prev must be shaped as A_prev")
        dp = &delta_prev[0, 0]
    with nogil:
        if real is float:
            check(nn_dense_backward_f32(&dW[0, 0], &db[0], dp, &A_prev[0, 0], &W[0, 0], &delta[0, 0], m, k, n, <nn_act>act_prev))
        else:
            check(nn_dense_backward_f64(&dW[0, 0], &db[0], dp, &A_prev[0, 0], &W[0, 0], &delta[0, 0], m, k, n, <nn_act>act_prev))


def loss(const real[:, ::1] Z, const real[:, ::1] A, const real[:, ::1] Y, int kind,
         double param=1.0):
    """Mean over rows of the per-sample loss, from logits Z and outputs A (param: huber's
    delta)."""
    cdef double value = 0.0
    expect(Z.shape[0] == A.shape[0] == Y.shape[0] and Z.shape[1] == A.shape[1] == Y.shape[1],
           "Z, A and Y must have the same shape")
    with nogil:
        if real is float:
            check(nn_loss_ex_f32(&value, &Z[0, 0], &A[0, 0], &Y[0, 0], NULL, Z.shape[0], Z.shape[1], <nn_loss>kind, param))
        else:
            check(nn_loss_ex_f64(&value, &Z[0, 0], &A[0, 0], &Y[0, 0], NULL, Z.shape[0], Z.shape[1], <nn_loss>kind, param))
    return value


def output_delta(real[:, ::1] delta, const real[:, ::1] Z, const real[:, ::1] A,
                 const real[:, ::1] Y, int output, int kind, double param=1.0):
    """delta = dL_sample/dZ (not divided by the batch size; param: huber's delta)."""
    expect(Z.shape[0] == A.shape[0] == Y.shape[0] == delta.shape[0]
           and Z.shape[1] == A.shape[1] == Y.shape[1] == delta.shape[1],
           "delta, Z, A and Y must have the same shape")
    with nogil:
        if real is float:
            check(nn_output_delta_ex_f32(&delta[0, 0], &Z[0, 0], &A[0, 0], &Y[0, 0], Z.shape[0], Z.shape[1], <nn_act>output, <nn_loss>kind, param))
        else:
            check(nn_output_delta_ex_f64(&delta[0, 0], &Z[0, 0], &A[0, 0], &Y[0, 0], Z.shape[0], Z.shape[1], <nn_act>output, <nn_loss>kind, param))


def l2_penalty(const real[::1] W, double alpha, int64_t m):
    """alpha / 2 * sum(W^2) / m."""
    cdef double value = 0.0
    with nogil:
        if real is float:
            check(nn_l2_penalty_f32(&value, &W[0], W.shape[0], alpha, m))
        else:
            check(nn_l2_penalty_f64(&value, &W[0], W.shape[0], alpha, m))
    return value


def l2_gradient(real[::1] dW, const real[::1] W, double alpha, int64_t m):
    """dW += alpha * W / m."""
    expect(dW.shape[0] == W.shape[0], "dW must be shaped as W")
    with nogil:
        if real is float:
            check(nn_l2_gradient_f32(&dW[0], &W[0], W.shape[0], alpha, m))
        else:
            check(nn_l2_gradient_f64(&dW[0], &W[0], W.shape[0], alpha, m))


def sgd_update(real[::1] w, real[::1] v, const real[::1] g, double lr, double momentum,
               bint nesterov):
    """v = mu v - lr g; w += v (Nesterov: w += mu v - lr g)."""
    expect(v.shape[0] == w.shape[0] and g.shape[0] == w.shape[0], "w, v and g must have the same length")
    with nogil:
        if real is float:
            check(nn_sgd_update_f32(&w[0], &v[0], &g[0], w.shape[0], lr, momentum, nesterov))
        else:
            check(nn_sgd_update_f64(&w[0], &v[0], &g[0], w.shape[0], lr, momentum, nesterov))


def adam_update(real[::1] w, real[::1] m, real[::1] v, const real[::1] g, int64_t t, double lr,
                double beta1, double beta2, double epsilon):
    """One Adam step (t is the 1-based step number)."""
    expect(m.shape[0] == w.shape[0] and v.shape[0] == w.shape[0] and g.shape[0] == w.shape[0],
           "w, m, v and g must have the same length")
    with nogil:
        if real is float:
            check(nn_adam_update_f32(&w[0], &m[0], &v[0], &g[0], w.shape[0], t, lr, beta1, beta2, epsilon))
        else:
            check(nn_adam_update_f64(&w[0], &m[0], &v[0], &g[0], w.shape[0], t, lr, beta1, beta2, epsilon))


def perceptron_epoch(real[:, ::1] W, real[::1] b, const real[:, ::1] X, const real[:, ::1] Y,
                     const int64_t[::1] order, double lr):
    """One pass of the perceptron rule; return the number of samples with a mistake."""
    cdef int64_t mistakes = 0
    cdef const int64_t *o = NULL
    cdef int64_t i, n = X.shape[0], k = X.shape[1], n_out = W.shape[1]
    expect(W.shape[0] == k, "W must have one row per feature")
    expect(b.shape[0] == n_out, "b must have one value per output")
    expect(Y.shape[0] == n and Y.shape[1] == n_out, "Y must be (samples, outputs)")
    if order is not None:
        expect(order.shape[0] == n, "order must have one entry per sample")
        for i in range(n):
            expect(0 <= order[i] < n, "order holds an index out of range")
        o = &order[0]
    with nogil:
        if real is float:
            check(nn_perceptron_epoch_f32(&W[0, 0], &b[0], &mistakes, &X[0, 0], &Y[0, 0], o, n, k, n_out, lr))
        else:
            check(nn_perceptron_epoch_f64(&W[0, 0], &b[0], &mistakes, &X[0, 0], &Y[0, 0], o, n, k, n_out, lr))
    return mistakes


def perceptron_sgd_epoch(real[::1] w, real[::1] q, const real[:, ::1] X, const real[::1] y,
                         const real[::1] sample_weight, const int64_t[::1] order, double b,
                         double u, double eta, double alpha, double l1_ratio, bint fit_intercept):
    """One epoch of linear SGD on the perceptron loss (y in {-1, +1}), w and q in place;
    return (b, u, objective): the new intercept and cumulative L1 penalty, and the epoch's
    summed loss plus penalty."""
    cdef double objective = 0.0
    cdef const int64_t *o = NULL
    cdef int64_t n = X.shape[0], k = X.shape[1]
    expect(w.shape[0] == k and q.shape[0] == k, "w and q must have one value per feature")
    expect(y.shape[0] == n and sample_weight.shape[0] == n, "y and sample_weight need one value per row")
    if order is not None:
        expect(order.shape[0] == n, "order must have one entry per sample")
        o = &order[0]
    with nogil:
        if real is float:
            check(nn_perceptron_sgd_epoch_f32(&w[0], &b, &u, &q[0], &objective, &X[0, 0], &y[0], &sample_weight[0], o, n, k, eta, alpha, l1_ratio, fit_intercept))
        else:
            check(nn_perceptron_sgd_epoch_f64(&w[0], &b, &u, &q[0], &objective, &X[0, 0], &y[0], &sample_weight[0], o, n, k, eta, alpha, l1_ratio, fit_intercept))
    return b, u, objective


# perceptron_sgd_fit's per-class state: nn_perceptron_sgd_class, one record of this many bytes
# (nnfast.ops.PERCEPTRON_SGD_CLASS is its NumPy dtype; the binding takes its bytes).
PERCEPTRON_SGD_CLASS_BYTES = sizeof(nn_perceptron_sgd_class)


cdef nn_perceptron_sgd_class *sgd_classes(unsigned char[::1] state, int64_t c) except NULL:
    """The c class records in state's bytes."""
    expect(c > 0 and state.shape[0] == c * <int64_t>sizeof(nn_perceptron_sgd_class),
           "state must hold one nn_perceptron_sgd_class record per class")
    return <nn_perceptron_sgd_class *>&state[0]


cdef int sgd_options(nn_perceptron_sgd_options *opt, double eta, double alpha, double l1_ratio,
                     double tol, bint fit_intercept, int64_t n_iter_no_change,
                     int64_t max_iter, double intercept_decay) except -1:
    opt.eta = eta
    opt.alpha = alpha
    opt.l1_ratio = l1_ratio
    opt.tol = tol
    opt.intercept_decay = intercept_decay
    opt.n_iter_no_change = n_iter_no_change
    opt.max_iter = max_iter
    opt.fit_intercept = fit_intercept
    return 0


cdef const int64_t *sgd_orders(const int64_t[:, :, ::1] orders, int64_t c, int64_t n) except? NULL:
    """orders (c, n_epochs, n) as a pointer (NULL for None: every epoch in row order)."""
    if orders is None:
        return NULL
    expect(orders.shape[0] == c and orders.shape[2] == n,
           "orders must be (classes, epochs, samples)")
    return &orders[0, 0, 0] if orders.shape[1] > 0 else NULL


def perceptron_sgd_fit(real[:, ::1] W, real[:, ::1] Q, unsigned char[::1] state,
                       const real[:, ::1] X, const real[:, ::1] Y, const real[:, ::1] SW,
                       const int64_t[:, :, ::1] orders, int64_t n_epochs, double eta,
                       double alpha, double l1_ratio, double tol, bint fit_intercept,
                       int64_t n_iter_no_change, int64_t max_iter,
                       uint32_t[:, ::1] keys=None, int64_t[::1] pos=None,
                       const uint32_t[::1] seeds=None, int64_t[:, ::1] index=None):
    """Up to n_epochs more epochs of perceptron_sgd_epoch for each one-vs-rest class (row j of
    W, Q, Y, SW; state's record j), the classes on the core's threads; W, Q and state in
    place (Q may be None without L1). With keys and pos (and no orders), class j draws each
    epoch's order from its MT19937 state keys[j], pos[j] (mt19937_permutations' draws),
    advanced in place. With seeds and index (and neither orders nor keys), class j shuffles
    its index row index[j] with seeds[j] before each epoch (sgd_dataset_orders' shuffle) and
    visits it."""
    cdef nn_perceptron_sgd_options opt
    cdef int64_t c = W.shape[0], n = X.shape[0], k = X.shape[1]
    cdef nn_perceptron_sgd_class *cls = sgd_classes(state, c)
    cdef const int64_t *o = NULL
    cdef real *q = NULL
    expect(W.shape[1] == k, "W must be (classes, features)")
    expect(Y.shape[0] == c and Y.shape[1] == n and SW.shape[0] == c and SW.shape[1] == n,
           "Y and SW must be (classes, samples)")
    if Q is not None:
        expect(Q.shape[0] == c and Q.shape[1] == k, "Q must be (classes, features)")
        q = &Q[0, 0]
    if orders is not None:
        expect(orders.shape[1] == n_epochs, "orders must hold n_epochs orders per class")
        o = sgd_orders(orders, c, n)
    sgd_options(&opt, eta, alpha, l1_ratio, tol, fit_intercept, n_iter_no_change, max_iter, 1.0)
    if keys is not None:
        expect(orders is None and seeds is None,
               "give orders, MT19937 streams (keys, pos) or dataset streams (seeds, index)")
        expect(pos is not None and keys.shape[0] == c and keys.shape[1] == 624 and
               pos.shape[0] == c, "keys must be (classes, 624) and pos (classes,)")
        with nogil:
            if real is float:
                check(nn_perceptron_sgd_fit_shuffled_f32(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], &keys[0, 0], &pos[0], c, n, k, n_epochs, &opt))
            else:
                check(nn_perceptron_sgd_fit_shuffled_f64(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], &keys[0, 0], &pos[0], c, n, k, n_epochs, &opt))
        return
    if seeds is not None:
        expect(orders is None, "give orders or dataset streams (seeds, index), not both")
        expect(index is not None and seeds.shape[0] == c and index.shape[0] == c and
               index.shape[1] == n, "seeds must be (classes,) and index (classes, samples)")
        with nogil:
            if real is float:
                check(nn_perceptron_sgd_fit_dataset_f32(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], &seeds[0], &index[0, 0], c, n, k, n_epochs, &opt))
            else:
                check(nn_perceptron_sgd_fit_dataset_f64(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], &seeds[0], &index[0, 0], c, n, k, n_epochs, &opt))
        return
    with nogil:
        if real is float:
            check(nn_perceptron_sgd_fit_f32(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], o, c, n, k, n_epochs, &opt))
        else:
            check(nn_perceptron_sgd_fit_f64(&W[0, 0], q, cls, &X[0, 0], &Y[0, 0], &SW[0, 0], o, c, n, k, n_epochs, &opt))


def weighted_loss(const real[:, ::1] Z, const real[:, ::1] A, const real[:, ::1] Y,
                  const double[::1] sample_weight, int kind):
    """sum_i sw_i loss_i / sum_i sw_i, from logits Z and outputs A."""
    cdef double value = 0.0
    expect(Z.shape[0] == A.shape[0] == Y.shape[0] == sample_weight.shape[0]
           and Z.shape[1] == A.shape[1] == Y.shape[1],
           "Z, A, Y and sample_weight must have matching shapes")
    with nogil:
        if real is float:
            check(nn_weighted_loss_f32(&value, &Z[0, 0], &A[0, 0], &Y[0, 0], &sample_weight[0], Z.shape[0], Z.shape[1], <nn_loss>kind))
        else:
            check(nn_weighted_loss_f64(&value, &Z[0, 0], &A[0, 0], &Y[0, 0], &sample_weight[0], Z.shape[0], Z.shape[1], <nn_loss>kind))
    return value


def measure_cpu_hz(double sample_seconds=0.001, int samples=100):
    """The clock the core runs at, in Hz, from a chain of dependent integer adds (one per cycle):
    the 90th percentile of `samples` rates, each timed over about sample_seconds; 0.0 where it
    cannot be measured (no GCC/Clang inline asm)."""
    cdef double hz
    expect(0 < sample_seconds <= 1 and 1 <= samples <= 256,
           "sample_seconds must be in (0, 1] and samples in [1, 256]")
    with nogil:
        hz = nn_measure_cpu_hz(sample_seconds, samples)
    return hz


FMA_PROBE_KERNELS = ("avx512", "avx512_12x32", "avx2", "neon", "portable")


def measure_fma_flops(dtype="float32", kernel=None, int threads=0, double sample_seconds=0.001,
                      int samples=100):
    """FLOP/s of one core running independent multiply-add chains in the SIMD of the GEMM
    kernel `kernel` (None: the one the dispatch chose), for dtype float32 or float64, on
    `threads` threads at once (0: nnfast's thread count): each thread's 90th percentile of
    `samples` rates timed over about sample_seconds, averaged over the threads; 0.0 where the
    timer fails."""
    cdef double flops = 0.0
    cdef int elem_bytes, st
    cdef bytes name
    cdef const char *cname = NULL
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if kernel is not None and kernel not in FMA_PROBE_KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(FMA_PROBE_KERNELS)} or None, "
                         f"got {kernel!r}")
    expect(0 < sample_seconds <= 1 and 1 <= samples <= 256,
           "sample_seconds must be in (0, 1] and samples in [1, 256]")
    expect(0 <= threads <= 1024, f"threads must be in [0, 1024], got {threads}")
    elem_bytes = 4 if dtype == "float32" else 8
    if kernel is not None:
        name = kernel.encode()
        cname = name
    with nogil:
        st = nn_measure_fma_flops(&flops, cname, elem_bytes, threads, sample_seconds, samples)
    if st == NN_EINVAL:
        raise ValueError(f"kernel {kernel!r} is not built into this nnfast or this CPU does "
                         f"not run it")
    check(st)
    return flops


def measure_core_round_trip(int cpu_a=0, int cpu_b=1, int64_t trips=20000):
    """Seconds a cache line takes to go from CPU cpu_a to CPU cpu_b and back (two threads pinned
    to them, each waiting for the other's write; the median of 5 batches): how far apart the two
    CPUs are (an L3 shared or not). 0.0 where it cannot be measured: not Linux, a CPU this
    process may not run on, no answer within 0.5 s. The calling thread's affinity is untouched."""
    cdef double seconds = 0.0
    cdef int st
    expect(cpu_a >= 0 and cpu_b >= 0 and cpu_a != cpu_b,
           f"cpu_a and cpu_b must be two different CPUs >= 0, got {cpu_a} and {cpu_b}")
    expect(1 <= trips <= 10_000_000, f"trips must be in [1, 10000000], got {trips}")
    with nogil:
        st = nn_measure_core_round_trip(&seconds, cpu_a, cpu_b, trips)
    check(st)
    return seconds


def profile_start():
    """Clear the products' profile and start recording: from now on every product the C core
    runs (nnfast.ops.matmul, a training step's products and fused steps, the forward's chunks
    of rows) adds its wall time to the row of its shape, with the parallel loops it opened.
    One profile per process. Small networks' fused engine runs products of its own, which
    are not counted."""
    nn_profile_start()


def profile_stop():
    """Stop recording; the profile's rows, one dict a product shape in order of first call:
    m, n, k, trans_a, trans_b, dtype ("float32", "float64", "bfloat16": a bfloat16 product of
    float operands), step (the optimizer step fused in), calls, seconds (wall time on the
    calling threads), loops (parallel loops opened), loops_alone (of them, loops no pool worker
    took a part of), end_wait (seconds the caller waited at loops' ends for workers' parts).
    Loops outside a product are the row of shape 0 x 0 x 0 (dtype None)."""
    cdef nn_profile_row rows[256]
    cdef int64_t n, i
    n = nn_profile_stop(rows, 256)
    names = {4: "float32", 8: "float64", 2: "bfloat16"}
    return [{"m": rows[i].m, "n": rows[i].n, "k": rows[i].k, "trans_a": bool(rows[i].trans_a),
             "trans_b": bool(rows[i].trans_b), "dtype": names.get(rows[i].elem_bytes),
             "step": bool(rows[i].with_step), "calls": rows[i].calls,
             "seconds": rows[i].seconds, "loops": rows[i].loops,
             "loops_alone": rows[i].loops_alone, "end_wait": rows[i].end_wait}
            for i in range(n)]


def cache_sizes():
    """Bytes of the L1 data, L2 and last-level cache the CPU reports ({} entries of 0: unknown)."""
    return {"l1d": nn_cache_size(1), "l2": nn_cache_size(2), "l3": nn_cache_size(3)}


# ---- sparse input (sparse.c): rows in CSR ----------------------------------------------------
# A CSR matrix is three arrays: indptr (n_rows + 1) int64, indices (nnz) int32 column numbers,
# data (nnz) float32/float64. check_csr names what is wrong with them; the kernels below check
# only that the arrays agree in length (the core checks indptr's order and the indices' range
# again and refuses with the outputs untouched), so they never read past an array.
from libc.stdint cimport int32_t


def check_csr(const int64_t[::1] indptr, const int32_t[::1] indices, const real[::1] data,
              int64_t n_columns, str name="X"):
    """Raise ValueError naming the problem unless indptr, indices, data are a CSR matrix with
    n_columns columns: indptr starts at 0, never decreases and ends at nnz = len(indices) =
    len(data) (data and indices may hold one unused value when nnz = 0); every index in
    [0, n_columns); every value finite."""
    cdef int64_t i, n_rows = indptr.shape[0] - 1, nnz, bad = -1
    cdef int64_t cols = n_columns
    expect(n_rows >= 1, f"{name} has no rows")
    nnz = indptr[n_rows]
    expect(indptr[0] == 0, f"{name}.indptr must start at 0, got {indptr[0]}")
    expect(0 <= nnz <= indices.shape[0] and indices.shape[0] == data.shape[0]
           and (indices.shape[0] == nnz or (nnz == 0 and indices.shape[0] == 1)),
           f"{name}.indptr ends at {nnz} but {name} holds {indices.shape[0]} indices and "
           f"{data.shape[0]} values")
    with nogil:
        for i in range(n_rows):
            if indptr[i + 1] < indptr[i]:
                bad = i
                break
    expect(bad < 0, f"{name}.indptr decreases at row {bad}")
    with nogil:
        for i in range(nnz):
            if indices[i] < 0 or indices[i] >= cols:
                bad = i
                break
    expect(bad < 0, f"{name} holds column index {indices[bad] if bad >= 0 else 0} outside "
                    f"[0, {n_columns}) (nonzero {bad})")
    expect(nnz == 0 or all_within(&data[0], nnz, -INFINITY, INFINITY),
           f"{name} holds NaN or infinity")


cdef int64_t csr_agrees(const int64_t[::1] indptr, Py_ssize_t n_indices, Py_ssize_t n_data) except -1:
    """The rows of a CSR matrix whose indptr stays within its indices and data (what the core
    cannot see); ValueError otherwise."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    expect(n_rows >= 1, "a CSR matrix needs at least one row")
    expect(indptr[0] >= 0 and indptr[n_rows] <= n_indices and indptr[n_rows] <= n_data
           and n_indices >= 1 and n_data >= 1,
           "indptr points past the end of indices or data")
    return n_rows


def csr_dense_forward(real[:, ::1] Z, const int64_t[::1] indptr, const int32_t[::1] indices,
                      const real[::1] data, const int64_t[::1] rows, const real[:, ::1] W,
                      const real[::1] b):
    """Z (m, n) = X[rows] @ W + b for X in CSR (rows None: all of them, m = n_rows)."""
    cdef int64_t n_rows = csr_agrees(indptr, indices.shape[0], data.shape[0])
    cdef int64_t m = n_rows if rows is None else rows.shape[0]
    cdef const int64_t *r = NULL
    cdef const real *bias = NULL
    if rows is not None and m >= 1:
        r = &rows[0]
    if b is not None:
        bias = &b[0]
    expect(m >= 1, "rows is empty")
    expect(Z.shape[0] == m and Z.shape[1] == W.shape[1], "Z must be (rows, W's columns)")
    expect(b is None or b.shape[0] == W.shape[1], "b must have one value per column of W")
    with nogil:
        if real is float:
            check(nn_csr_dense_forward_f32(&Z[0, 0], &indptr[0], &indices[0], &data[0], n_rows, r, m, &W[0, 0], bias, W.shape[0], W.shape[1]))
        else:
            check(nn_csr_dense_forward_f64(&Z[0, 0], &indptr[0], &indices[0], &data[0], n_rows, r, m, &W[0, 0], bias, W.shape[0], W.shape[1]))


def csr_weight_gradient(real[:, ::1] dW, const int64_t[::1] indptr, const int32_t[::1] indices,
                        const real[::1] data, const int64_t[::1] rows, const real[:, ::1] delta,
                        double alpha):
    """dW += alpha X[rows]^T @ delta for X in CSR (rows None: all of them)."""
    cdef int64_t n_rows = csr_agrees(indptr, indices.shape[0], data.shape[0])
    cdef int64_t m = n_rows if rows is None else rows.shape[0]
    cdef const int64_t *r = NULL
    if rows is not None and m >= 1:
        r = &rows[0]
    expect(m >= 1, "rows is empty")
    expect(delta.shape[0] == m and delta.shape[1] == dW.shape[1],
           "delta must be (rows, dW's columns)")
    with nogil:
        if real is float:
            check(nn_csr_weight_gradient_f32(&dW[0, 0], &indptr[0], &indices[0], &data[0], n_rows, r, m, &delta[0, 0], dW.shape[0], dW.shape[1], <float>alpha))
        else:
            check(nn_csr_weight_gradient_f64(&dW[0, 0], &indptr[0], &indices[0], &data[0], n_rows, r, m, &delta[0, 0], dW.shape[0], dW.shape[1], alpha))


def csr_forward(real[:, ::1] out, const real[::1] params, Net net, const int64_t[::1] indptr,
                const int32_t[::1] indices, const real[::1] data):
    """out (n_rows, n_L) = the network's output activations for X in CSR (n_rows, n_0)."""
    cdef int64_t n_rows = csr_agrees(indptr, indices.shape[0], data.shape[0])
    expect(params.shape[0] == net.n_params, "params has the wrong length")
    expect(out.shape[0] == n_rows and out.shape[1] == net.n_outputs, "out has the wrong shape")
    with nogil:
        if real is float:
            check(nn_csr_forward_f32(&out[0, 0], &params[0], &net.net, &indptr[0], &indices[0], &data[0], n_rows))
        else:
            check(nn_csr_forward_f64(&out[0, 0], &params[0], &net.net, &indptr[0], &indices[0], &data[0], n_rows))


def csr_loss_gradient(const real[::1] params, Net net, const int64_t[::1] indptr,
                      const int32_t[::1] indices, const real[::1] data,
                      const int64_t[::1] rows, const real[:, ::1] Y, double alpha,
                      real[::1] grads=None, const double[::1] sample_weight=None):
    """loss_gradient on the rows X[rows] of a CSR matrix (rows None: all of them): the batch
    loss; grads (n_params) receives its gradient when not None."""
    cdef double loss = 0.0
    cdef int64_t n_rows = csr_agrees(indptr, indices.shape[0], data.shape[0])
    cdef int64_t m = n_rows if rows is None else rows.shape[0]
    cdef const int64_t *r = NULL
    cdef real *g = NULL
    cdef const double *sw = NULL
    expect(m >= 1, "rows is empty")
    if rows is not None:
        r = &rows[0]
    expect(params.shape[0] == net.n_params, "params has the wrong length")
    expect(Y.shape[0] == m and Y.shape[1] == net.n_outputs, "Y must be (rows, outputs)")
    if grads is not None:
        expect(grads.shape[0] == net.n_params, "grads has the wrong length")
        g = &grads[0]
    if sample_weight is not None:
        expect(sample_weight.shape[0] == m, "sample_weight must have one value per row")
        sw = &sample_weight[0]
    with nogil:
        if real is float:
            check(nn_csr_loss_gradient_f32(&loss, g, &params[0], &net.net, &indptr[0], &indices[0], &data[0], n_rows, r, m, &Y[0, 0], sw, alpha))
        else:
            check(nn_csr_loss_gradient_f64(&loss, g, &params[0], &net.net, &indptr[0], &indices[0], &data[0], n_rows, r, m, &Y[0, 0], sw, alpha))
    return loss


def perceptron_sgd_csr_epoch(real[::1] w, real[::1] q, double[::1] norms,
                             const int64_t[::1] indptr, const int32_t[::1] indices,
                             const real[::1] data, const real[::1] y,
                             const real[::1] sample_weight, const int64_t[::1] order, double b,
                             double u, double eta, double alpha, double l1_ratio,
                             bint fit_intercept, double intercept_decay=1.0):
    """perceptron_sgd_epoch on CSR rows, w and q in place (q may be None without L1),
    norms = [|w|^2, |w|_1] carried as
    scikit-learn carries them, the intercept moved by intercept_decay times each step;
    return (b, u, objective)."""
    cdef double objective = 0.0
    cdef const int64_t *o = NULL
    cdef real *q_data = NULL
    cdef int64_t n = csr_agrees(indptr, indices.shape[0], data.shape[0]), k = w.shape[0]
    if q is not None:
        expect(q.shape[0] == k, "w and q must have one value per feature")
        q_data = &q[0]
    expect(norms.shape[0] == 2, "norms must hold [|w|^2, |w|_1]")
    expect(y.shape[0] == n and sample_weight.shape[0] == n, "y and sample_weight need one value per row")
    if order is not None:
        expect(order.shape[0] == n, "order must have one entry per sample")
        o = &order[0]
    with nogil:
        if real is float:
            check(nn_perceptron_sgd_csr_epoch_f32(&w[0], &b, &u, q_data, &norms[0], &objective, &indptr[0], &indices[0], &data[0], &y[0], &sample_weight[0], o, n, k, eta, alpha, l1_ratio, fit_intercept, intercept_decay))
        else:
            check(nn_perceptron_sgd_csr_epoch_f64(&w[0], &b, &u, q_data, &norms[0], &objective, &indptr[0], &indices[0], &data[0], &y[0], &sample_weight[0], o, n, k, eta, alpha, l1_ratio, fit_intercept, intercept_decay))
    return b, u, objective


def perceptron_sgd_csr_fit(real[:, ::1] W, real[:, ::1] Q, unsigned char[::1] state,
                           const int64_t[::1] indptr, const int32_t[::1] indices,
                           const real[::1] data, const real[:, ::1] Y, const real[:, ::1] SW,
                           const int64_t[:, :, ::1] orders, int64_t n_epochs, double eta,
                           double alpha, double l1_ratio, double tol, bint fit_intercept,
                           int64_t n_iter_no_change, int64_t max_iter,
                           double intercept_decay=1.0):
    """perceptron_sgd_fit on CSR rows, each epoch perceptron_sgd_csr_epoch's (the running
    norms in the state records)."""
    cdef nn_perceptron_sgd_options opt
    cdef int64_t n = csr_agrees(indptr, indices.shape[0], data.shape[0])
    cdef int64_t c = W.shape[0], k = W.shape[1]
    cdef nn_perceptron_sgd_class *cls = sgd_classes(state, c)
    cdef const int64_t *o = NULL
    cdef real *q = NULL
    expect(Y.shape[0] == c and Y.shape[1] == n and SW.shape[0] == c and SW.shape[1] == n,
           "Y and SW must be (classes, samples)")
    if Q is not None:
        expect(Q.shape[0] == c and Q.shape[1] == k, "Q must be (classes, features)")
        q = &Q[0, 0]
    if orders is not None:
        expect(orders.shape[1] == n_epochs, "orders must hold n_epochs orders per class")
        o = sgd_orders(orders, c, n)
    sgd_options(&opt, eta, alpha, l1_ratio, tol, fit_intercept, n_iter_no_change, max_iter,
                intercept_decay)
    with nogil:
        if real is float:
            check(nn_perceptron_sgd_csr_fit_f32(&W[0, 0], q, cls, &indptr[0], &indices[0], &data[0], &Y[0, 0], &SW[0, 0], o, c, n, k, n_epochs, &opt))
        else:
            check(nn_perceptron_sgd_csr_fit_f64(&W[0, 0], q, cls, &indptr[0], &indices[0], &data[0], &Y[0, 0], &SW[0, 0], o, c, n, k, n_epochs, &opt))


def perceptron_csr_epoch(real[:, ::1] W, real[::1] b, const int64_t[::1] indptr,
                         const int32_t[::1] indices, const real[::1] data, const real[:, ::1] Y,
                         const int64_t[::1] order, double lr):
    """One pass of the perceptron rule over CSR rows; return the samples with a mistake."""
    cdef int64_t mistakes = 0
    cdef const int64_t *o = NULL
    cdef int64_t n = csr_agrees(indptr, indices.shape[0], data.shape[0])
    cdef int64_t k = W.shape[0], n_out = W.shape[1]
    expect(b.shape[0] == n_out, "b must have one value per output")
    expect(Y.shape[0] == n and Y.shape[1] == n_out, "Y must be (samples, outputs)")
    if order is not None:
        expect(order.shape[0] == n, "order must have one entry per sample")
        o = &order[0]
    with nogil:
        if real is float:
            check(nn_perceptron_csr_epoch_f32(&W[0, 0], &b[0], &mistakes, &indptr[0], &indices[0], &data[0], &Y[0, 0], o, n, k, n_out, lr))
        else:
            check(nn_perceptron_csr_epoch_f64(&W[0, 0], &b[0], &mistakes, &indptr[0], &indices[0], &data[0], &Y[0, 0], o, n, k, n_out, lr))
    return mistakes

