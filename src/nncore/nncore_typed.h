/* The typed half of nncore.h, included once per element type with
 *   NN_T  the element type (float or double)
 *   NN_F  the name mangler: NN_F(gemm) -> nn_gemm_f32 / nn_gemm_f64
 *   NN_WS the training workspace type
 * No include guard on purpose. Shapes are given in the comment above each prototype. */

/* ---- checks of the caller's data (checks.c) -------------------------------------------- */
/* ok = 1 when every x[0:n] is finite and low <= x[i] <= high (-INFINITY, INFINITY: finite
 * only), else 0. A large x is read in chunks over the thread pool. NaN bounds: NN_EINVAL.    */
int NN_F(all_within)(int *ok, const NN_T *x, int64_t n, double low, double high);

/* ---- GEMM (gemm.c) ----------------------------------------------------------------------
 * The epilogue runs as C is written back, after the last product term:
 *   C = alpha * op(A) @ op(B) + beta * C
 *   C += bias            (per column) when bias != NULL
 *   C = act(C)           elementwise; act must not be softmax or exp (identity = nothing)
 *   C *= act'(deriv_of)  when deriv_of != NULL: derivative of deriv_act written from its output,
 *                        deriv_of has the shape and layout of C                              */
typedef struct {
    const NN_T *bias;
    nn_act act;
    const NN_T *deriv_of;
    nn_act deriv_act;
} NN_F(epilogue);

/* C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue (ep may be NULL).
 * op(A) (m, k): A stored (m, k), or (k, m) when trans_a. op(B) (k, n): B stored (k, n), or
 * (n, k) when trans_b. With beta == 0, C is never read.                                    */
int NN_F(gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
               int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep);
/* The plain triple loop with the same contract: the algorithmic reference for gemm.        */
int NN_F(gemm_naive)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep);

/* ---- activations (activations.c) -------------------------------------------------------- */
/* A = f(Z) elementwise; softmax row by row. Z, A (m, n); A may alias Z.                      */
int NN_F(activation_forward)(NN_T *A, const NN_T *Z, int64_t m, int64_t n, nn_act act);
/* G_out = G * f'(A), f' from the output A; softmax: a_j (g_j - sum_i g_i a_i) per row.
 * A, G, G_out (m, n); G_out may alias G. step: NN_EINVAL (not differentiable).               */
int NN_F(activation_backward)(NN_T *G_out, const NN_T *A, const NN_T *G, int64_t m, int64_t n,
                              nn_act act);

/* ---- dense layer (dense.c) -------------------------------------------------------------- */
/* Z = A @ W + b, then A_out = f(Z). A (m, k), W (k, n), b (n), A_out (m, n).
 * Z_out (m, n) receives the logits when not NULL (the output layer needs them for the loss). */
int NN_F(dense_forward)(NN_T *A_out, NN_T *Z_out, const NN_T *A, const NN_T *W, const NN_T *b,
                        int64_t m, int64_t k, int64_t n, nn_act act);
/* dW += A_prev^T @ delta / m;  db += sum_rows(delta) / m;
 * delta_prev = (delta @ W^T) * f'(A_prev), f = act_prev, when delta_prev != NULL.
 * A_prev (m, k), W (k, n), delta (m, n), dW (k, n), db (n), delta_prev (m, k).              */
int NN_F(dense_backward)(NN_T *dW, NN_T *db, NN_T *delta_prev, const NN_T *A_prev,
                         const NN_T *W, const NN_T *delta, int64_t m, int64_t k, int64_t n,
                         nn_act act_prev);

/* ---- losses (losses.c) ------------------------------------------------------------------ */
/* loss = mean over the m rows of the per-sample loss. Z logits, A = f(Z), Y targets (m, n).
 * bce: sum_k softplus(z) - y z; ce: sum_k y_k (lse(z) - z_k); mse: mean_k (a - y)^2;
 * mae: mean_k |a - y|; huber: mean_k h(a - y), h(r) = r^2 / 2 for |r| <= delta, else
 * delta (|r| - delta / 2), delta = 1 here (loss_ex takes it); poisson: sum_k e^z - y z from
 * the logits (y >= 0, else NN_EINVAL).                                                      */
int NN_F(loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m, int64_t n,
               nn_loss loss_kind);
/* loss = sum_i sw_i loss_i / sum_i sw_i: the weighted mean of the per-sample loss above.
 * sw (m) >= 0 with a positive sum, else NN_EINVAL.                                         */
int NN_F(weighted_loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y,
                        const double *sw, int64_t m, int64_t n, nn_loss loss_kind);
/* delta (m, n) = dL_sample / dZ, not divided by m: a - y for sigmoid+bce and softmax+ce;
 * mse: 2 (a - y) / n through the output activation's derivative. Other pairs: NN_EPAIR.    */
int NN_F(output_delta)(NN_T *delta, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m,
                       int64_t n, nn_act output, nn_loss loss_kind);
/* loss_ex / output_delta_ex: loss / weighted_loss (sw NULL: unweighted) and output_delta with
 * the loss's parameter: huber's delta (> 0, else NN_EINVAL); the other losses ignore it.
 * mae: delta = sign(a - y) / n (0 where a = y); huber: h'(a - y) / n, h'(r) = r for
 * |r| <= delta, else delta sign(r); both through the output's derivative. poisson after
 * exp: a - y.                                                                               */
int NN_F(loss_ex)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y, const double *sw,
                  int64_t m, int64_t n, nn_loss loss_kind, double param);
int NN_F(output_delta_ex)(NN_T *delta, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m,
                          int64_t n, nn_act output, nn_loss loss_kind, double param);
/* penalty = alpha / 2 * sum(W^2) / m over count weights.                                  */
int NN_F(l2_penalty)(double *penalty, const NN_T *W, int64_t count, double alpha, int64_t m);
/* dW += alpha * W / m over count weights.                                                 */
int NN_F(l2_gradient)(NN_T *dW, const NN_T *W, int64_t count, double alpha, int64_t m);

/* ---- optimizers (optim.c), over count parameters --------------------------------------- */
/* v = mu v - lr g;  w += v,  or with nesterov  w += mu v - lr g.                           */
int NN_F(sgd_update)(NN_T *w, NN_T *v, const NN_T *g, int64_t count, double lr, double momentum,
                     int nesterov);
/* m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps).
 * t is the 1-based step number.                                                            */
int NN_F(adam_update)(NN_T *w, NN_T *m, NN_T *v, const NN_T *g, int64_t count, int64_t t,
                      double lr, double beta1, double beta2, double epsilon);

/* ---- perceptron rule (perceptron.c) ------------------------------------------------------ */
/* For each sample i in order (NULL: 0..n-1), each output j independently:
 * y_hat = step(x_i . W[:, j] + b_j);  W[:, j] += lr (y_ij - y_hat) x_i;  b_j += lr (y_ij - y_hat).
 * X (n, k), Y (n, n_out), W (k, n_out), b (n_out). mistakes = samples with any output wrong. */
int NN_F(perceptron_epoch)(NN_T *W, NN_T *b, int64_t *mistakes, const NN_T *X, const NN_T *Y,
                           const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr);
/* Linear SGD on the perceptron loss max(0, -y p) (scikit-learn's Perceptron), one epoch over
 * the rows in order (NULL: 0..n-1), y_i in {-1, +1}, sw_i the sample's weight:
 *   p = w . x + b;  objective += max(0, -y p) + alpha ((1 - r)/2 |w|^2 + r |w|_1);
 *   s = eta y sw if y p <= 0 else 0;  w *= max(0, 1 - (1 - r) eta alpha);  w += s x;
 *   b += s (fit_intercept);  r > 0: u += r eta alpha and each w_j moves toward 0 by the
 *   cumulative L1 penalty u, q_j the part already applied (Tsuruoka et al. 2009).
 * r = l1_ratio; alpha = 0: no penalty. w, q (k); X (n, k); y, sw (n). With alpha > 0 in
 * scikit-learn's WeightVector arithmetic (w = wscale v, its running norms, its types;
 * docs/semantics.md), from scale 1 and the exact norms, the scale folded in at the end.     */
int NN_F(perceptron_sgd_epoch)(NN_T *w, double *b, double *u, NN_T *q, double *objective,
                               const NN_T *X, const NN_T *y, const NN_T *sw,
                               const int64_t *order, int64_t n, int64_t k, double eta,
                               double alpha, double l1_ratio, int fit_intercept);

/* c one-vs-rest classes of perceptron_sgd_epoch, each for up to n_epochs more epochs, on the
 * pool (one class a part: the results do not depend on the thread count). Class j trains
 * W[j, :] (k) with labels Y[j, :] (n, -1/+1), weights SW[j, :] (n), its L1 memory Q[j, :]
 * (NULL when no class has an L1 part) and state cls[j]; epoch e of this call visits the rows
 * in orders[(j n_epochs + e) n ...] (orders NULL: 0..n-1). After each epoch: w or b not
 * finite -> status NN_SGD_NONFINITE; else with o = objective / n,
 * no_improvement = o > best_objective - tol ? no_improvement + 1 : 0,
 * best_objective = min(best_objective, o), and no_improvement >= n_iter_no_change ->
 * NN_SGD_CONVERGED. A class stops at either status or at max_iter epochs; classes not in
 * NN_SGD_TRAINING are skipped. X (n, k). With a penalty the weights are cls[j].wscale *
 * W[j, :] (scikit-learn's WeightVector, the running norms in cls[j].norms), the scale carried
 * from call to call and folded into W[j, :] once the class stops (wscale 1).               */
int NN_F(perceptron_sgd_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *X,
                             const NN_T *Y, const NN_T *SW, const int64_t *orders, int64_t c,
                             int64_t n, int64_t k, int64_t n_epochs,
                             const nn_perceptron_sgd_options *opt);
/* perceptron_sgd_fit with each class's orders drawn as its epochs run: class j's order for
 * each epoch is the next numpy.random.RandomState permutation(n) of its MT19937 state keys[j]
 * (624 words), pos[j] (0..624), as nn_mt19937_permutations draws it, advanced in place; a
 * class that stops draws no more.                                                          */
int NN_F(perceptron_sgd_fit_shuffled)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                      const NN_T *X, const NN_T *Y, const NN_T *SW,
                                      uint32_t *keys, int64_t *pos, int64_t c, int64_t n,
                                      int64_t k, int64_t n_epochs,
                                      const nn_perceptron_sgd_options *opt);
/* perceptron_sgd_fit with scikit-learn's epoch orders: before each epoch, class j's index
 * row index[j, :] (n row numbers, n < 2^31; 0..n-1 at scikit-learn's start) is shuffled in
 * place with seeds[j] as nn_sgd_dataset_orders shuffles it, and the epoch visits it; the
 * index rows carry the orders from call to call, as scikit-learn's dataset from epoch to
 * epoch.                                                                                   */
int NN_F(perceptron_sgd_fit_dataset)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                     const NN_T *X, const NN_T *Y, const NN_T *SW,
                                     const uint32_t *seeds, int64_t *index, int64_t c,
                                     int64_t n, int64_t k, int64_t n_epochs,
                                     const nn_perceptron_sgd_options *opt);

/* ---- whole network (network.c) ----------------------------------------------------------- */
/* params (n_params): glorot draws W row-major then b, layer by layer, (2u-1) * bound,
 * bound = sqrt(6 / (fan_in + fan_out)), sqrt(2 / ...) for a sigmoid layer; zeros draws nothing. */
int NN_F(init_params)(NN_T *params, const nn_net *net, nn_init init, uint64_t *rng_state);
/* out (n, n_L) = the network's output activations for X (n, n_0); works in row chunks.    */
int NN_F(forward)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X, int64_t n);
/* forward, and NN_ENONFINITE when a value of X or of out is NaN or infinite (each row chunk
 * checks its own inputs before and outputs after, on the thread that computes it: no pass over
 * all of X and out by the caller). out is then partly written.                              */
int NN_F(forward_finite)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X,
                         int64_t n);
/* loss = batch loss of all n rows (mean + alpha/2 sum W^2 / n); grads (n_params), when not
 * NULL, = its gradient by backprop (overwritten, not accumulated).                          */
int NN_F(loss_gradient)(double *loss, NN_T *grads, const NN_T *params, const nn_net *net,
                        const NN_T *X, const NN_T *Y, int64_t n, double alpha);
/* The same with per-sample weights sw (n) (NULL: all 1): loss = sum_i sw_i loss_i / S +
 * alpha/2 sum W^2 / S, S = sum_i sw_i > 0; grads its gradient.                              */
int NN_F(weighted_loss_gradient)(double *loss, NN_T *grads, const NN_T *params,
                                 const nn_net *net, const NN_T *X, const NN_T *Y,
                                 const double *sw, int64_t n, double alpha);

/* ---- training (train.c) ------------------------------------------------------------------ */
/* Every buffer one fit needs, for n_samples rows in batches of at most batch_size:
 * activations, logits, deltas, gradients, optimizer state (zeroed), the sample order.      */
int NN_F(workspace_create)(NN_WS **ws, const nn_net *net, int64_t n_samples, int64_t batch_size,
                           nn_opt optimizer);
void NN_F(workspace_free)(NN_WS *ws);
/* The optimizer state a workspace carries from batch to batch and call to call, to save
 * and restore it: state1 (n_params) sgd velocity or adam first moment; state2 (n_params)
 * adam second moment (NULL for sgd); step adam's step count t.                              */
int NN_F(workspace_optimizer_state)(NN_WS *ws, NN_T **state1, NN_T **state2, int64_t **step,
                                    int64_t *n_params);
/* Per-sample weights (n_samples) for the next train_epoch calls, or NULL for all 1; the
 * caller keeps the array alive. A batch's loss is then sum_i sw_i loss_i / S +
 * alpha/2 sum W^2 / S, S = the sum of the batch's weights, which must be > 0.               */
int NN_F(workspace_set_sample_weight)(NN_WS *ws, const double *sample_weight);
/* Which engine train_epochs runs with these settings and the sample weights set now:
 * "neuron" (one neuron, full batch: neuron_train.c), "fused" (small_net.c) or "general". */
const char *NN_F(workspace_engine)(const NN_WS *ws, const nn_fit_config *cfg);
/* One epoch over X (n, n_0), Y (n, n_L): order (a fresh permutation when cfg->shuffle),
 * consecutive batches, forward, batch loss, backward, L2, one optimizer step per batch.
 * With dropout, each batch's masks are drawn from rng_state during its forward: hidden layer
 * by layer (rate 0: no draw), row by row in batch order, unit by unit, kept when
 * uniform >= p (rng_state is then needed also without shuffle).
 * params are updated in place; epoch_loss = sum_batches batch_loss * rows / n.
 * NN_ENONFINITE when a batch loss is not finite (params then hold a partial epoch).         */
int NN_F(train_epoch)(NN_T *params, double *epoch_loss, NN_WS *ws, const nn_net *net,
                      const nn_fit_config *cfg, const NN_T *X, const NN_T *Y, int64_t n,
                      uint64_t *rng_state);
/* `epochs` calls of train_epoch in one: loss_curve[e] = epoch e's loss. *epochs_done counts
 * the epochs completed, also when an error (NN_ENONFINITE, NN_EINTR) stops the run.         */
int NN_F(train_epochs)(NN_T *params, double *loss_curve, int64_t *epochs_done, NN_WS *ws,
                       const nn_net *net, const nn_fit_config *cfg, const NN_T *X,
                       const NN_T *Y, int64_t n, int64_t epochs, uint64_t *rng_state);

/* ---- sparse input (sparse.c) --------------------------------------------------------------
 * X (n_rows, k) in CSR: row i holds data[p] at column indices[p] for p = indptr[i] ..
 * indptr[i+1]-1. indptr (n_rows + 1) int64, nondecreasing, indptr[0] >= 0 (the caller makes
 * sure data and indices hold indptr[n_rows] values); indices int32 in [0, k), any order,
 * duplicates add up. rows (m) selects rows (a batch, in any order), NULL for 0 .. m-1.
 * Out-of-range rows or indices, or a decreasing indptr: NN_EINVAL, outputs untouched.       */
/* Z (m, n) = X[rows] @ W + b. W (k, n), b (n) or NULL. Bit-identical for any thread count. */
int NN_F(csr_dense_forward)(NN_T *Z, const int64_t *indptr, const int32_t *indices,
                            const NN_T *data, int64_t n_rows, const int64_t *rows, int64_t m,
                            const NN_T *W, const NN_T *b, int64_t k, int64_t n);
/* dW (k, n) += alpha X[rows]^T @ delta, delta (m, n): dense_backward's dW with alpha = 1/m.
 * Bit-identical for any thread count.                                                       */
int NN_F(csr_weight_gradient)(NN_T *dW, const int64_t *indptr, const int32_t *indices,
                              const NN_T *data, int64_t n_rows, const int64_t *rows, int64_t m,
                              const NN_T *delta, int64_t k, int64_t n, NN_T alpha);
/* out (n_rows, n_L) = forward's output for X in CSR with k = net->sizes[0].                 */
int NN_F(csr_forward)(NN_T *out, const NN_T *params, const nn_net *net, const int64_t *indptr,
                      const int32_t *indices, const NN_T *data, int64_t n_rows);
/* loss (and grads (n_params), NULL: the loss alone) of the batch X[rows] (m rows of an
 * n_rows-row CSR matrix, k = net->sizes[0]), targets Y (m, n_L), weights sw (m) or NULL:
 * weighted_loss_gradient's on the same rows written out densely, to rounding. The first
 * layer reads the nonzeros only (never n_rows x k); the others are dense_forward and
 * dense_backward's. Dropout is not applied.                                                */
int NN_F(csr_loss_gradient)(double *loss, NN_T *grads, const NN_T *params, const nn_net *net,
                            const int64_t *indptr, const int32_t *indices, const NN_T *data,
                            int64_t n_rows, const int64_t *rows, int64_t m, const NN_T *Y,
                            const double *sw, double alpha);
/* perceptron_epoch on the n CSR rows (k = W's rows): bit-identical W, b and mistakes for
 * sorted indices.                                                                          */
int NN_F(perceptron_csr_epoch)(NN_T *W, NN_T *b, int64_t *mistakes, const int64_t *indptr,
                               const int32_t *indices, const NN_T *data, const NN_T *Y,
                               const int64_t *order, int64_t n, int64_t k, int64_t n_out,
                               double lr);
/* perceptron_sgd_epoch on the n CSR rows, the weights kept as scale * v inside (an L2 shrink
 * costs O(1), an update O(nonzeros of the row)). As scikit-learn does on sparse input, the L1
 * step touches the row's nonzero columns only, and the objective's |w|^2, |w|_1 are the
 * running norms (norms[0], norms[1], in/out: set from the row's columns at each update,
 * scaled by each shrink; start them at the full norms of w). The intercept moves by
 * intercept_decay times the step (scikit-learn: 0.01 for sparse data). p = w . x is summed
 * in scikit-learn's order (left to right), perceptron_sgd_epoch's in sixteen lanes: with
 * alpha = 0 and intercept_decay = 1 the two give the same w, b and objective up to that
 * rounding, bit-identical when the sums are exact (small integer counts and weights).       */
int NN_F(perceptron_sgd_csr_epoch)(NN_T *w, double *b, double *u, NN_T *q, double *norms,
                                   double *objective, const int64_t *indptr,
                                   const int32_t *indices, const NN_T *data, const NN_T *y,
                                   const NN_T *sw, const int64_t *order, int64_t n, int64_t k,
                                   double eta, double alpha, double l1_ratio, int fit_intercept,
                                   double intercept_decay);
/* perceptron_sgd_fit on the n CSR rows, each epoch perceptron_sgd_csr_epoch's (the running
 * norms in cls[j].norms, the intercept moved by opt->intercept_decay of each step).         */
int NN_F(perceptron_sgd_csr_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                 const int64_t *indptr, const int32_t *indices,
                                 const NN_T *data, const NN_T *Y, const NN_T *SW,
                                 const int64_t *orders, int64_t c, int64_t n, int64_t k,
                                 int64_t n_epochs, const nn_perceptron_sgd_options *opt);
