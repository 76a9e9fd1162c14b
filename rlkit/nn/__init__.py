"""Neural-network building blocks: activations, initialisers, MLP, perceptron, CNNs, LSTM,
noisy linear layers.

Agents build their networks from these parts (DQN's Q-network, PPO's actor-critic,
recurrent PPO's LSTM), never from private copies.
"""

from rlkit.nn.activations import ACTIVATIONS, Step, activation
from rlkit.nn.cnn import MinAtarCNN, NatureCNN, conv_net
from rlkit.nn.init import INITS, init_weights
from rlkit.nn.lstm import LSTM
from rlkit.nn.mlp import MLP
from rlkit.nn.noisy import NoisyLinear, reset_noise
from rlkit.nn.perceptron import Perceptron

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LSTM",
    "MLP",
    "MinAtarCNN",
    "NatureCNN",
    "NoisyLinear",
    "Perceptron",
    "Step",
    "activation",
    "conv_net",
    "init_weights",
    "reset_noise",
]
