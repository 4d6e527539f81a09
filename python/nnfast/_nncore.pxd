# Declarations of the C core (src/nncore/nncore.h) for the Cython binding.
# The typed functions appear twice, for float (_f32) and double (_f64), as in nncore_typed.h.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "nncore.h" nogil:
    enum:
        NN_OK
        NN_EINVAL
        NN_ENOMEM
        NN_EOVERFLOW
        NN_ENONFINITE
        NN_EPAIR
        NN_EINTR
    const char *nn_strerror(int status)

    ctypedef enum nn_act:
        NN_ACT_IDENTITY
        NN_ACT_STEP
        NN_ACT_SIGMOID
        NN_ACT_TANH
        NN_ACT_RELU
        NN_ACT_SOFTMAX
        NN_ACT_EXP
    ctypedef enum nn_loss:
        NN_LOSS_MSE
        NN_LOSS_BCE
        NN_LOSS_CE
        NN_LOSS_MAE
        NN_LOSS_HUBER
        NN_LOSS_POISSON
    ctypedef enum nn_opt:
        NN_OPT_SGD
        NN_OPT_ADAM
    ctypedef enum nn_init:
        NN_INIT_GLOROT
        NN_INIT_ZEROS
    ctypedef enum nn_products:
        NN_PRODUCTS_NATIVE
        NN_PRODUCTS_BF16

    void nn_set_num_threads(int n)
    int nn_get_num_threads()
    const char *nn_threading()
    double nn_seconds()

    ctypedef struct nn_build_info:
        const char *gemm_kernel_f32
        const char *gemm_kernel_f64
        const char *vecmath
        const char *cpu_features
        const char *compiler
        const char *threading
        int native_build
        int num_threads
        const char *gemm_kernel_bf16
    void nn_get_build_info(nn_build_info *info)

    uint64_t nn_rng_u64(uint64_t *state)
    double nn_rng_uniform(uint64_t *state)
    int nn_rng_permutation(int64_t *order, int64_t n, uint64_t *state)
    int nn_mt19937_permutations(int64_t *orders, int64_t c, int64_t m, int64_t n, uint32_t *keys, int64_t *pos, const uint8_t *active)
    int nn_mt19937_shuffle(int64_t *x, int64_t n, uint32_t *key, int64_t *pos)
    int nn_mt19937_seed(uint32_t *keys, int64_t *pos, const uint32_t *seeds, int64_t c)
    int nn_sgd_dataset_orders(int64_t *orders, int64_t c, int64_t m, int64_t n, const uint32_t *seeds, int64_t *index, const uint8_t *active)

    ctypedef struct nn_net:
        int64_t n_layers
        const int64_t *sizes
        nn_act hidden
        nn_act output
        nn_loss loss
        const nn_act *hidden_acts
        const double *dropout
        double huber_delta
    int nn_net_check(const nn_net *net, int64_t *n_params)
    nn_act nn_net_layer_act(const nn_net *net, int64_t l)
    double nn_net_layer_dropout(const nn_net *net, int64_t l)

    ctypedef struct nn_fit_config:
        nn_opt optimizer
        double lr
        double momentum
        int nesterov
        double beta1
        double beta2
        double epsilon
        double alpha
        int shuffle
        int (*should_stop)(void *ctx) noexcept nogil
        void *stop_ctx
        const int64_t *order
        double loss_alpha
        nn_products products

    ctypedef struct nn_perceptron_sgd_options:
        double eta
        double alpha
        double l1_ratio
        double tol
        double intercept_decay
        int64_t n_iter_no_change
        int64_t max_iter
        int fit_intercept
    ctypedef struct nn_perceptron_sgd_class:
        double b
        double u
        double norms[2]
        double wscale
        double best_objective
        int64_t no_improvement
        int64_t epochs
        int64_t status
    enum:
        NN_SGD_TRAINING
        NN_SGD_CONVERGED
        NN_SGD_NONFINITE
    int nn_perceptron_sgd_fit_f32(float *W, float *Q, nn_perceptron_sgd_class *cls, const float *X, const float *Y, const float *SW, const int64_t *orders, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_fit_shuffled_f32(float *W, float *Q, nn_perceptron_sgd_class *cls, const float *X, const float *Y, const float *SW, uint32_t *keys, int64_t *pos, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_fit_dataset_f32(float *W, float *Q, nn_perceptron_sgd_class *cls, const float *X, const float *Y, const float *SW, const uint32_t *seeds, int64_t *index, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_fit_f64(double *W, double *Q, nn_perceptron_sgd_class *cls, const double *X, const double *Y, const double *SW, const int64_t *orders, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_fit_shuffled_f64(double *W, double *Q, nn_perceptron_sgd_class *cls, const double *X, const double *Y, const double *SW, uint32_t *keys, int64_t *pos, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_fit_dataset_f64(double *W, double *Q, nn_perceptron_sgd_class *cls, const double *X, const double *Y, const double *SW, const uint32_t *seeds, int64_t *index, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_csr_fit_f32(float *W, float *Q, nn_perceptron_sgd_class *cls, const int64_t *indptr, const int32_t *indices, const float *data, const float *Y, const float *SW, const int64_t *orders, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
    int nn_perceptron_sgd_csr_fit_f64(double *W, double *Q, nn_perceptron_sgd_class *cls, const int64_t *indptr, const int32_t *indices, const double *data, const double *Y, const double *SW, const int64_t *orders, int64_t c, int64_t n, int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)

    ctypedef struct nn_epilogue_f32:
        const float *bias
        nn_act act
        const float *deriv_of
        nn_act deriv_act
    ctypedef struct nn_workspace_f32:
        pass
    int nn_all_within_f32(int *ok, const float *x, int64_t n, double low, double high)
    int nn_gemm_f32(float *C, const float *A, const float *B, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, float alpha, float beta, const nn_epilogue_f32 *ep)
    int nn_gemm_bf16_f32(float *C, const float *A, const float *B, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, float alpha, float beta, const nn_epilogue_f32 *ep)
    int nn_gemm_naive_f32(float *C, const float *A, const float *B, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, float alpha, float beta, const nn_epilogue_f32 *ep)
    int nn_activation_forward_f32(float *A, const float *Z, int64_t m, int64_t n, nn_act act)
    int nn_activation_backward_f32(float *G_out, const float *A, const float *G, int64_t m, int64_t n, nn_act act)
    int nn_dense_forward_f32(float *A_out, float *Z_out, const float *A, const float *W, const float *b, int64_t m, int64_t k, int64_t n, nn_act act)
    int nn_dense_backward_f32(float *dW, float *db, float *delta_prev, const float *A_prev, const float *W, const float *delta, int64_t m, int64_t k, int64_t n, nn_act act_prev)
    int nn_loss_f32(double *loss, const float *Z, const float *A, const float *Y, int64_t m, int64_t n, nn_loss loss_kind)
    int nn_output_delta_f32(float *delta, const float *Z, const float *A, const float *Y, int64_t m, int64_t n, nn_act output, nn_loss loss_kind)
    int nn_loss_ex_f32(double *loss, const float *Z, const float *A, const float *Y, const double *sw, int64_t m, int64_t n, nn_loss loss_kind, double param)
    int nn_output_delta_ex_f32(float *delta, const float *Z, const float *A, const float *Y, int64_t m, int64_t n, nn_act output, nn_loss loss_kind, double param)
    int nn_l2_penalty_f32(double *penalty, const float *W, int64_t count, double alpha, int64_t m)
    int nn_l2_gradient_f32(float *dW, const float *W, int64_t count, double alpha, int64_t m)
    int nn_sgd_update_f32(float *w, float *v, const float *g, int64_t count, double lr, double momentum, int nesterov)
    int nn_adam_update_f32(float *w, float *m, float *v, const float *g, int64_t count, int64_t t, double lr, double beta1, double beta2, double epsilon)
    int nn_perceptron_epoch_f32(float *W, float *b, int64_t *mistakes, const float *X, const float *Y, const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr)
    int nn_init_params_f32(float *params, const nn_net *net, nn_init init, uint64_t *rng_state)
    int nn_forward_f32(float *out, const float *params, const nn_net *net, const float *X, int64_t n)
    int nn_forward_finite_f32(float *out, const float *params, const nn_net *net, const float *X,
                              int64_t n)
    int nn_loss_gradient_f32(double *loss, float *grads, const float *params, const nn_net *net, const float *X, const float *Y, int64_t n, double alpha)
    int nn_workspace_create_f32(nn_workspace_f32 **ws, const nn_net *net, int64_t n_samples, int64_t batch_size, nn_opt optimizer)
    void nn_workspace_free_f32(nn_workspace_f32 *ws)
    int nn_workspace_set_sample_weight_f32(nn_workspace_f32 *ws, const double *sample_weight)
    const char *nn_workspace_engine_f32(const nn_workspace_f32 *ws, const nn_fit_config *cfg)
    int nn_workspace_optimizer_state_f32(nn_workspace_f32 *ws, float **state1, float **state2, int64_t **step, int64_t *n_params)
    int nn_weighted_loss_gradient_f32(double *loss, float *grads, const float *params, const nn_net *net, const float *X, const float *Y, const double *sw, int64_t n, double alpha)
    int nn_weighted_loss_f32(double *loss, const float *Z, const float *A, const float *Y, const double *sw, int64_t m, int64_t n, nn_loss loss_kind)
    int nn_perceptron_sgd_epoch_f32(float *w, double *b, double *u, float *q, double *objective, const float *X, const float *y, const float *sw, const int64_t *order, int64_t n, int64_t k, double eta, double alpha, double l1_ratio, int fit_intercept)
    int nn_train_epoch_f32(float *params, double *epoch_loss, nn_workspace_f32 *ws, const nn_net *net, const nn_fit_config *cfg, const float *X, const float *Y, int64_t n, uint64_t *rng_state)
    int nn_train_epochs_f32(float *params, double *loss_curve, int64_t *epochs_done, nn_workspace_f32 *ws, const nn_net *net, const nn_fit_config *cfg, const float *X, const float *Y, int64_t n, int64_t epochs, uint64_t *rng_state)

    ctypedef struct nn_epilogue_f64:
        const double *bias
        nn_act act
        const double *deriv_of
        nn_act deriv_act
    ctypedef struct nn_workspace_f64:
        pass
    int nn_all_within_f64(int *ok, const double *x, int64_t n, double low, double high)
    int nn_gemm_f64(double *C, const double *A, const double *B, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, double alpha, double beta, const nn_epilogue_f64 *ep)
    int nn_gemm_naive_f64(double *C, const double *A, const double *B, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, double alpha, double beta, const nn_epilogue_f64 *ep)
    int nn_activation_forward_f64(double *A, const double *Z, int64_t m, int64_t n, nn_act act)
    int nn_activation_backward_f64(double *G_out, const double *A, const double *G, int64_t m, int64_t n, nn_act act)
    int nn_dense_forward_f64(double *A_out, double *Z_out, const double *A, const double *W, const double *b, int64_t m, int64_t k, int64_t n, nn_act act)
    int nn_dense_backward_f64(double *dW, double *db, double *delta_prev, const double *A_prev, const double *W, const double *delta, int64_t m, int64_t k, int64_t n, nn_act act_prev)
    int nn_loss_f64(double *loss, const double *Z, const double *A, const double *Y, int64_t m, int64_t n, nn_loss loss_kind)
    int nn_output_delta_f64(double *delta, const double *Z, const double *A, const double *Y, int64_t m, int64_t n, nn_act output, nn_loss loss_kind)
    int nn_loss_ex_f64(double *loss, const double *Z, const double *A, const double *Y, const double *sw, int64_t m, int64_t n, nn_loss loss_kind, double param)
    int nn_output_delta_ex_f64(double *delta, const double *Z, const double *A, const double *Y, int64_t m, int64_t n, nn_act output, nn_loss loss_kind, double param)
    int nn_l2_penalty_f64(double *penalty, const double *W, int64_t count, double alpha, int64_t m)
    int nn_l2_gradient_f64(double *dW, const double *W, int64_t count, double alpha, int64_t m)
    int nn_sgd_update_f64(double *w, double *v, const double *g, int64_t count, double lr, double momentum, int nesterov)
    int nn_adam_update_f64(double *w, double *m, double *v, const double *g, int64_t count, int64_t t, double lr, double beta1, double beta2, double epsilon)
    int nn_perceptron_epoch_f64(double *W, double *b, int64_t *mistakes, const double *X, const double *Y, const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr)
    int nn_init_params_f64(double *params, const nn_net *net, nn_init init, uint64_t *rng_state)
    int nn_forward_f64(double *out, const double *params, const nn_net *net, const double *X, int64_t n)
    int nn_forward_finite_f64(double *out, const double *params, const nn_net *net, const double *X,
                              int64_t n)
    int nn_loss_gradient_f64(double *loss, double *grads, const double *params, const nn_net *net, const double *X, const double *Y, int64_t n, double alpha)
    int nn_workspace_create_f64(nn_workspace_f64 **ws, const nn_net *net, int64_t n_samples, int64_t batch_size, nn_opt optimizer)
    void nn_workspace_free_f64(nn_workspace_f64 *ws)
    int nn_workspace_set_sample_weight_f64(nn_workspace_f64 *ws, const double *sample_weight)
    const char *nn_workspace_engine_f64(const nn_workspace_f64 *ws, const nn_fit_config *cfg)
    int nn_workspace_optimizer_state_f64(nn_workspace_f64 *ws, double **state1, double **state2, int64_t **step, int64_t *n_params)
    int nn_weighted_loss_gradient_f64(double *loss, double *grads, const double *params, const nn_net *net, const double *X, const double *Y, const double *sw, int64_t n, double alpha)
    int nn_weighted_loss_f64(double *loss, const double *Z, const double *A, const double *Y, const double *sw, int64_t m, int64_t n, nn_loss loss_kind)
    int nn_perceptron_sgd_epoch_f64(double *w, double *b, double *u, double *q, double *objective, const double *X, const double *y, const double *sw, const int64_t *order, int64_t n, int64_t k, double eta, double alpha, double l1_ratio, int fit_intercept)
    int nn_train_epoch_f64(double *params, double *epoch_loss, nn_workspace_f64 *ws, const nn_net *net, const nn_fit_config *cfg, const double *X, const double *Y, int64_t n, uint64_t *rng_state)
    int nn_train_epochs_f64(double *params, double *loss_curve, int64_t *epochs_done, nn_workspace_f64 *ws, const nn_net *net, const nn_fit_config *cfg, const double *X, const double *Y, int64_t n, int64_t epochs, uint64_t *rng_state)


# The measured CPU clock and the caches (clock.c, dispatch.c): the benchmarks' peak and blocking.
cdef extern from "nncore.h" nogil:
    double nn_measure_cpu_hz(double sample_seconds, int samples)
    int nn_measure_fma_flops(double *flops, const char *kernel, int elem_bytes, int threads, double sample_seconds, int samples)
    int nn_measure_core_round_trip(double *seconds, int cpu_a, int cpu_b, int64_t trips)
    int64_t nn_cache_size(int level)


# The products' profile (profile.c): where a fit's time goes, by product shape.
cdef extern from "nncore.h" nogil:
    ctypedef struct nn_profile_row:
        int64_t m, n, k
        int trans_a, trans_b
        int elem_bytes
        int with_step
        int64_t calls
        double seconds
        int64_t loops
        int64_t loops_alone
        double end_wait
    void nn_profile_start()
    int64_t nn_profile_stop(nn_profile_row *rows, int64_t max_rows)


# Sparse input (sparse.c): CSR rows, indptr int64 and indices int32.
cdef extern from "nncore.h" nogil:
    int nn_csr_dense_forward_f32(float *Z, const int64_t *indptr, const int32_t *indices, const float *data, int64_t n_rows, const int64_t *rows, int64_t m, const float *W, const float *b, int64_t k, int64_t n)
    int nn_csr_dense_forward_f64(double *Z, const int64_t *indptr, const int32_t *indices, const double *data, int64_t n_rows, const int64_t *rows, int64_t m, const double *W, const double *b, int64_t k, int64_t n)
    int nn_csr_weight_gradient_f32(float *dW, const int64_t *indptr, const int32_t *indices, const float *data, int64_t n_rows, const int64_t *rows, int64_t m, const float *delta, int64_t k, int64_t n, float alpha)
    int nn_csr_weight_gradient_f64(double *dW, const int64_t *indptr, const int32_t *indices, const double *data, int64_t n_rows, const int64_t *rows, int64_t m, const double *delta, int64_t k, int64_t n, double alpha)
    int nn_csr_forward_f32(float *out, const float *params, const nn_net *net, const int64_t *indptr, const int32_t *indices, const float *data, int64_t n_rows)
    int nn_csr_forward_f64(double *out, const double *params, const nn_net *net, const int64_t *indptr, const int32_t *indices, const double *data, int64_t n_rows)
    int nn_perceptron_sgd_csr_epoch_f32(float *w, double *b, double *u, float *q, double *norms, double *objective, const int64_t *indptr, const int32_t *indices, const float *data, const float *y, const float *sw, const int64_t *order, int64_t n, int64_t k, double eta, double alpha, double l1_ratio, int fit_intercept, double intercept_decay)
    int nn_perceptron_sgd_csr_epoch_f64(double *w, double *b, double *u, double *q, double *norms, double *objective, const int64_t *indptr, const int32_t *indices, const double *data, const double *y, const double *sw, const int64_t *order, int64_t n, int64_t k, double eta, double alpha, double l1_ratio, int fit_intercept, double intercept_decay)
    int nn_csr_loss_gradient_f32(double *loss, float *grads, const float *params, const nn_net *net, const int64_t *indptr, const int32_t *indices, const float *data, int64_t n_rows, const int64_t *rows, int64_t m, const float *Y, const double *sw, double alpha)
    int nn_csr_loss_gradient_f64(double *loss, double *grads, const double *params, const nn_net *net, const int64_t *indptr, const int32_t *indices, const double *data, int64_t n_rows, const int64_t *rows, int64_t m, const double *Y, const double *sw, double alpha)
    int nn_perceptron_csr_epoch_f32(float *W, float *b, int64_t *mistakes, const int64_t *indptr, const int32_t *indices, const float *data, const float *Y, const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr)
    int nn_perceptron_csr_epoch_f64(double *W, double *b, int64_t *mistakes, const int64_t *indptr, const int32_t *indices, const double *data, const double *Y, const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr)
