"""End to end: the main job's training loop (BNNS LSTM, readout, Adam) learns."""

import numpy as np

from mpsnn._demo import train


def test_lstm_training_reaches_a_loss_bound():
    losses = train(steps=80, seed=3, log=None)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    # Predicting the next value of noisy sines: the noise alone costs 0.0025;
    # predicting zero would cost about 0.5.
    assert np.isfinite(losses).all()
    assert last < 0.05 and last < 0.1 * first, (first, last)
