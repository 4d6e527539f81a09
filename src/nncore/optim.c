/* Optimizer steps over a flat parameter vector, computed in the element type. */
#include "internal.h"

/* v = mu v - lr g;  w += v,  or with nesterov  w += mu v - lr g. */
int NN_F(sgd_update)(NN_T *w, NN_T *v, const NN_T *g, int64_t count, double lr, double momentum,
                     int nesterov)
{
    int64_t i;
    if (!w || !v || !g || count <= 0) return NN_EINVAL;
    if (!(lr > 0) || !isfinite(lr) || !(momentum >= 0 && momentum < 1)) return NN_EINVAL;
    if (nesterov != 0 && nesterov != 1) return NN_EINVAL;
    {
        const NN_T mu = (NN_T)momentum, eta = (NN_T)lr;
        if (nesterov) {
            for (i = 0; i < count; i++) {
                v[i] = mu * v[i] - eta * g[i];
                w[i] += mu * v[i] - eta * g[i];
            }
        } else {
            for (i = 0; i < count; i++) {
                v[i] = mu * v[i] - eta * g[i];
                w[i] += v[i];
            }
        }
    }
    return NN_OK;
}

/* m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr_t m / (sqrt(v) + eps),
 * lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) in double (the bias correction), t >= 1. */
int NN_F(adam_update)(NN_T *w, NN_T *m, NN_T *v, const NN_T *g, int64_t count, int64_t t,
                      double lr, double beta1, double beta2, double epsilon)
{
    int64_t i;
    if (!w || !m || !v || !g || count <= 0 || t < 1) return NN_EINVAL;
    if (!(lr > 0) || !isfinite(lr) || !(beta1 >= 0 && beta1 < 1) ||
        !(beta2 >= 0 && beta2 < 1) || !(epsilon > 0) || !isfinite(epsilon))
        return NN_EINVAL;
    {
        const double lr_t = lr * sqrt(1.0 - pow(beta2, (double)t)) / (1.0 - pow(beta1, (double)t));
        const NN_T b1 = (NN_T)beta1, c1 = (NN_T)(1.0 - beta1);
        const NN_T b2 = (NN_T)beta2, c2 = (NN_T)(1.0 - beta2);
        const NN_T step = (NN_T)lr_t, eps = (NN_T)epsilon;
        for (i = 0; i < count; i++) {
            m[i] = b1 * m[i] + c1 * g[i];
            v[i] = b2 * v[i] + c2 * (g[i] * g[i]);
            w[i] -= step * m[i] / (NN_SQRT(v[i]) + eps);
        }
    }
    return NN_OK;
}
