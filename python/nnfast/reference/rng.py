"""The random stream of every nnfast model: SplitMix64, and a Fisher-Yates shuffle.

One stream per model, state = seed. The native core draws the same numbers in
the same order, so both implementations build and train the same network.
"""

MASK64 = (1 << 64) - 1  # every operation is modulo 2^64
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


class SplitMix64:
    """SplitMix64 generator (Steele, Lea and Flood, 2014).

    Parameters
    ----------
    seed : int
        Initial state, taken modulo 2^64.

    Attributes
    ----------
    state : int
        The current state, in [0, 2^64). Saving it saves the stream.
    """

    def __init__(self, seed=0):
        self.state = seed & MASK64

    def u64(self):
        """Next 64-bit integer.

        state += 0x9E3779B97F4A7C15; z = state;
        z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB;
        return z ^ z>>31  (all modulo 2^64).
        """
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        """Next float in [0, 1): u = (u64 >> 11) * 2^-53, the top 53 bits."""
        return (self.u64() >> 11) * 2.0 ** -53

    def __repr__(self):
        return f"SplitMix64(state={self.state})"


def permutation(rng, n):
    """A random order of 0..n-1, by Fisher-Yates.

    order = [0, ..., n-1]; for i = n-1 down to 1: j = floor(u * (i+1)), swap
    order[i] and order[j]. Draws n-1 numbers from `rng`.

    Parameters
    ----------
    rng : SplitMix64
    n : int

    Returns
    -------
    order : list of int, length n
    """
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        # u < 1 and u * (i+1) rounds below i+1 for every 53-bit u, so j <= i.
        j = int(rng.uniform() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order
