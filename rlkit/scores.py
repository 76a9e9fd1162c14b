"""Human-normalized Atari scores: ``(score - random) / (human - random)``.

0 is a policy that presses buttons uniformly at random, 1 a professional human games
tester. The reference scores are the Atari-57 table that DeepMind's papers normalize with
(Rainbow, Agent57), as its DQN Zoo distributes it: random and human play under the DQN
protocol (up to 30 no-op starts, episodes capped at 108,000 frames), each averaged over
several episodes. The same table serves the v5 ids, whose sticky actions make a game
harder than the protocol it was measured under: normalized scores of v5 runs compare with
each other and with other v5 work, not with the tables of the v4 papers.

A score normalizes only when it is whole games (not one life), unclipped, as rlkit's
evaluation plays them (``rollout/ep_return`` of training is too). Only the 57 games of the
table normalize; any other id gives ``None``.
"""

from __future__ import annotations

import re
from typing import Any

ATARI_SCORES: dict[str, tuple[float, float]] = {
    # game (as in its gymnasium id): (random, human)
    "Alien": (227.8, 7127.7),
    "Amidar": (5.8, 1719.5),
    "Assault": (222.4, 742.0),
    "Asterix": (210.0, 8503.3),
    "Asteroids": (719.1, 47388.7),
    "Atlantis": (12850.0, 29028.1),
    "BankHeist": (14.2, 753.1),
    "BattleZone": (2360.0, 37187.5),
    "BeamRider": (363.9, 16926.5),
    "Berzerk": (123.7, 2630.4),
    "Bowling": (23.1, 160.7),
    "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5),
    "Centipede": (2090.9, 12017.0),
    "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4),
    "Defender": (2874.5, 18688.9),
    "DemonAttack": (152.1, 1971.0),
    "DoubleDunk": (-18.6, -16.4),
    "Enduro": (0.0, 860.5),
    "FishingDerby": (-91.7, -38.7),
    "Freeway": (0.0, 29.6),
    "Frostbite": (65.2, 4334.7),
    "Gopher": (257.6, 2412.5),
    "Gravitar": (173.0, 3351.4),
    "Hero": (1027.0, 30826.4),
    "IceHockey": (-11.2, 0.9),
    "Jamesbond": (29.0, 302.8),
    "Kangaroo": (52.0, 3035.0),
    "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3),
    "MontezumaRevenge": (0.0, 4753.3),
    "MsPacman": (307.3, 6951.6),
    "NameThisGame": (2292.3, 8049.0),
    "Phoenix": (761.4, 7242.6),
    "Pitfall": (-229.4, 6463.7),
    "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3),
    "Qbert": (163.9, 13455.0),
    "Riverraid": (1338.5, 17118.0),
    "RoadRunner": (11.5, 7845.0),
    "Robotank": (2.2, 11.9),
    "Seaquest": (68.4, 42054.7),
    "Skiing": (-17098.1, -4336.9),
    "Solaris": (1236.3, 12326.7),
    "SpaceInvaders": (148.0, 1668.7),
    "StarGunner": (664.0, 10250.0),
    "Surround": (-10.0, 6.5),
    "Tennis": (-23.8, -8.3),
    "TimePilot": (3568.0, 5229.2),
    "Tutankham": (11.4, 167.6),
    "UpNDown": (533.4, 11693.2),
    "Venture": (0.0, 1187.5),
    # random play can outscore the human on Video Pinball under other protocols
    "VideoPinball": (16256.9, 17667.9),
    "WizardOfWor": (563.5, 4756.5),
    "YarsRevenge": (3092.9, 54576.9),
    "Zaxxon": (32.5, 9173.3),
}

# PongNoFrameskip-v4, Pong-v4, PongDeterministic-v4, Pong-ram-v4, ALE/Pong-v5, ALE/Pong-ram-v5
_ATARI_ID = re.compile(r"(?:ALE/)?([A-Za-z0-9]+?)(?:-ram)?(?:NoFrameskip|Deterministic)?-v[045]")


def atari_game(env_id: str) -> str | None:
    """The game of a gymnasium Atari id in the table (``"ALE/Pong-v5"`` -> ``"Pong"``), or
    ``None`` for any other id."""
    match = _ATARI_ID.fullmatch(env_id)
    if match is None or match.group(1) not in ATARI_SCORES:
        return None
    return match.group(1)


def human_normalized(env_id: str, score: float) -> float | None:
    """``score`` of ``env_id`` human-normalized, or ``None`` when the game has no reference."""
    game = atari_game(env_id)
    if game is None:
        return None
    random, human = ATARI_SCORES[game]
    return (float(score) - random) / (human - random)


def with_human_normalized(metrics: dict[str, Any], env_id: str) -> dict[str, Any]:
    """``metrics`` with ``eval/human_normalized`` added after its ``eval/mean_return`` when
    that is a score of an Atari game of the table (else ``metrics`` as they are)."""
    value = metrics.get("eval/mean_return")
    normalized = None if value is None else human_normalized(env_id, value)
    if normalized is None:
        return metrics
    out: dict[str, Any] = {}
    for key, item in metrics.items():
        out[key] = item
        if key == "eval/mean_return":
            out["eval/human_normalized"] = normalized
    return out
