/* nn_strerror: one short message per status code. */
#include "internal.h"

const char *nn_strerror(int status)
{
    switch (status) {
    case NN_OK: return "success";
    case NN_EINVAL: return "invalid argument";
    case NN_ENOMEM: return "out of memory";
    case NN_EOVERFLOW: return "size computation overflows";
    case NN_ENONFINITE: return "loss is not finite";
    case NN_EPAIR: return "output activation and loss do not go together";
    case NN_EINTR: return "interrupted";
    default: return "unknown status code";
    }
}
