/* The network description: checks, parameter count, layer activations and dropout rates. */
#include "internal.h"

/* A hidden layer's activation: elementwise (softmax is row-wise, exp is poisson's output). */
static int hidden_act_valid(nn_act act)
{
    return nni_act_valid(act) && act != NN_ACT_SOFTMAX && act != NN_ACT_EXP;
}

/* Sizes, names and rates; n_params = sum_l n_l * n_{l+1} + n_{l+1}, overflow-checked. */
int nni_net_check_shape(const nn_net *net, int64_t *n_params)
{
    int64_t l, total = 0;
    int st;
    if (!net || !net->sizes || net->n_layers < 1) return NN_EINVAL;
    if (!nni_act_valid(net->hidden) || !nni_act_valid(net->output) ||
        !nni_loss_valid(net->loss))
        return NN_EINVAL;
    for (l = 0; l < net->n_layers - 1; l++) {
        const double p = nn_net_layer_dropout(net, l);
        if (!hidden_act_valid(nn_net_layer_act(net, l))) return NN_EINVAL;
        if (!(p >= 0 && p < 1)) return NN_EINVAL; /* also refuses NaN */
    }
    if (net->loss == NN_LOSS_HUBER && !(net->huber_delta > 0 && isfinite(net->huber_delta)))
        return NN_EINVAL;
    for (l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] < 1) return NN_EINVAL;
    for (l = 0; l < net->n_layers; l++) {
        int64_t w;
        if ((st = nni_mul(&w, net->sizes[l], net->sizes[l + 1])) != NN_OK) return st;
        if ((st = nni_add(&total, total, w)) != NN_OK) return st;
        if ((st = nni_add(&total, total, net->sizes[l + 1])) != NN_OK) return st;
    }
    if (n_params) *n_params = total;
    return NN_OK;
}

/* (sigmoid, bce), (softmax, ce), (exp, poisson), (any output, mse / mae / huber). A step
 * output is a valid description: such a network runs forward (a neuron, a step perceptron);
 * nni_net_trainable refuses it. */
int nni_pair_check(nn_act output, nn_loss loss)
{
    switch (loss) {
    case NN_LOSS_BCE: return output == NN_ACT_SIGMOID ? NN_OK : NN_EPAIR;
    case NN_LOSS_CE: return output == NN_ACT_SOFTMAX ? NN_OK : NN_EPAIR;
    case NN_LOSS_POISSON: return output == NN_ACT_EXP ? NN_OK : NN_EPAIR;
    case NN_LOSS_MSE:
    case NN_LOSS_MAE:
    case NN_LOSS_HUBER: return NN_OK;
    default: return NN_EINVAL;
    }
}

/* Backprop needs a derivative in every layer: step has none. */
int nni_net_trainable(const nn_net *net)
{
    int64_t l;
    if (net->output == NN_ACT_STEP) return NN_EINVAL;
    for (l = 0; l < net->n_layers - 1; l++)
        if (nn_net_layer_act(net, l) == NN_ACT_STEP) return NN_EINVAL;
    return NN_OK;
}

/* 1 when some hidden layer has a dropout rate above 0. */
int nni_net_has_dropout(const nn_net *net)
{
    int64_t l;
    for (l = 0; l < net->n_layers - 1; l++)
        if (nn_net_layer_dropout(net, l) > 0) return 1;
    return 0;
}

int nn_net_check(const nn_net *net, int64_t *n_params)
{
    int st = nni_net_check_shape(net, n_params);
    if (st != NN_OK) return st;
    return nni_pair_check(net->output, net->loss);
}

nn_act nn_net_layer_act(const nn_net *net, int64_t l)
{
    if (l >= net->n_layers - 1) return net->output;
    return net->hidden_acts ? net->hidden_acts[l] : net->hidden;
}

double nn_net_layer_dropout(const nn_net *net, int64_t l)
{
    return net->dropout && l < net->n_layers - 1 ? net->dropout[l] : 0.0;
}
