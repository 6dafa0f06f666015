"""The bandit market: several agents pulling shared arms, payouts split when they collide.

Competing bandits with congestion (multi-player bandits; Liu & Zhao 2010, "musical chairs"):
every step each of the ``n_agents`` agents pulls one of ``n_arms`` Bernoulli arms. Each arm
draws one payout per step (1 with probability μ_a, else 0); the agents that pulled it share it
(``collision="split"``: each gets payout / c) or lose it (``collision="zero"``: any collision
pays nobody). The arm means are drawn afresh each episode (as the single-agent bandits do)
from the episode key, so the agents must learn where the good arms are and also how to spread
over them: the team's best is the top ``n_agents`` arms, one agent each.

Each agent sees its own history (counts, mean payout, last arm, last payout), the load of every
arm on the last step (how many agents pulled it: public, as prices on a market), the pulls left
and its own seat (one-hot), so one shared policy can play every seat. ``state()`` is the public
picture of the whole game (every agent's counts and means, the load, the time) for a
centralised critic. Regret is per agent, against the team optimum: ``opt / n − μ_a / c`` per
pull, with ``opt`` the sum of the top ``n`` means (for ``collision="zero"``, a collision's
expected payout is 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rewardgym.envs import rng
from rewardgym.envs.multiagent.core import MultiAgentCore

_INSTANCE, _PAYOUT = 0, 1  # counter-RNG streams
COLLISIONS = ("split", "zero")


@dataclass
class MarketState:
    key: np.ndarray  # (G,) episode key
    t: np.ndarray  # (G,) pulls so far
    means: np.ndarray  # (G, k)
    last_arm: np.ndarray  # (G, A), -1 before the first pull
    last_reward: np.ndarray  # (G, A)
    counts: np.ndarray  # (G, A, k) each agent's pulls of each arm
    sums: np.ndarray  # (G, A, k) each agent's payout from each arm
    load: np.ndarray  # (G, k) agents on each arm at the last step
    regret: np.ndarray  # (G, A) the last pull's regret
    cumulative_regret: np.ndarray  # (G, A)
    success: np.ndarray  # (G, A) the last pull was a top-n arm, alone on it


class BanditMarketCore(MultiAgentCore):
    """``num_games`` bandit markets stepped together (see the module docstring)."""

    def __init__(self, num_games: int, n_agents: int = 3, n_arms: int = 5, horizon: int = 100,
                 collision: str = "split"):
        super().__init__(num_games, n_agents)
        if n_arms < n_agents:
            raise ValueError(f"n_arms must be >= n_agents ({n_agents}) so that every agent can have an arm, "
                             f"got {n_arms}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if collision not in COLLISIONS:
            raise ValueError(f"collision must be one of {', '.join(COLLISIONS)}, got {collision!r}")
        self.n_arms, self.horizon, self.collision = int(n_arms), int(horizon), collision
        g, a, k = self.num_games, self.n_agents, self.n_arms
        self.state = MarketState(
            key=np.zeros(g, np.uint64), t=np.zeros(g, np.int64), means=np.zeros((g, k)),
            last_arm=np.full((g, a), -1, np.int64), last_reward=np.zeros((g, a)), counts=np.zeros((g, a, k), np.int64),
            sums=np.zeros((g, a, k)), load=np.zeros((g, k), np.int64), regret=np.zeros((g, a)),
            cumulative_regret=np.zeros((g, a)), success=np.zeros((g, a), bool),
        )
        box = spaces.Box
        self.single_observation_space = spaces.Dict({
            "last_arm": box(0.0, 1.0, (k,), np.float32),
            "last_reward": box(0.0, 1.0, (1,), np.float32),
            "counts": box(0.0, float(horizon), (k,), np.float32),
            "mean_reward": box(0.0, 1.0, (k,), np.float32),
            "load": box(0.0, float(a), (k,), np.float32),
            "steps_left": box(0.0, float(horizon), (1,), np.float32),
            "seat": box(0.0, 1.0, (a,), np.float32),
        })
        self.single_action_space = spaces.Discrete(k)
        self.state_space = box(0.0, float(max(horizon, a)), (2 * a * k + k + 1,), np.float32)
        split = "share its payout" if collision == "split" else "get nothing"
        self.task = (f"{a} players pull {k} shared arms, {horizon} pulls each; each arm pays 1 with an unknown "
                     f"probability, and players who pull the same arm {split}. Earn as much as you can.")
        self._task = np.full((g, a), self.task, dtype=object)
        self._seats = np.broadcast_to(np.eye(a, dtype=np.float32), (g, a, a))

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        s = self.state
        s.key[mask] = keys
        s.means[mask] = rng.uniform(keys, 0, _INSTANCE, (self.n_arms,))
        s.t[mask] = 0
        s.last_arm[mask] = -1
        for name in ("last_reward", "counts", "sums", "load", "regret", "cumulative_regret", "success"):
            getattr(s, name)[mask] = 0

    def step(self, actions: np.ndarray, acting: np.ndarray):
        s, k = self.state, self.n_arms
        games = acting.any(axis=1)
        arm = np.where(acting, actions, -1)  # (G, A); -1: not pulling
        load = (arm[:, :, None] == np.arange(k)).sum(axis=1)  # (G, k)
        payout = (rng.uniform(s.key, s.t, _PAYOUT, (k,)) < s.means).astype(np.float64)  # (G, k), one draw per arm
        pulled = np.maximum(arm, 0)
        mine = np.take_along_axis(payout, pulled, axis=1)  # (G, A)
        crowd = np.take_along_axis(load, pulled, axis=1)  # agents on my arm, me included
        mean = np.take_along_axis(s.means, pulled, axis=1)
        if self.collision == "split":
            reward, expected = mine / np.maximum(crowd, 1), mean / np.maximum(crowd, 1)
        else:
            alone = crowd == 1
            reward, expected = np.where(alone, mine, 0.0), np.where(alone, mean, 0.0)
        reward = np.where(acting, reward, 0.0)
        top = np.sort(s.means, axis=1)[:, ::-1][:, : self.n_agents]  # (G, n)
        regret = np.where(acting, top.sum(axis=1, keepdims=True) / self.n_agents - expected, 0.0)
        success = acting & (crowd == 1) & (mean >= top[:, -1:])

        g = np.flatnonzero(games)  # only games that are playing change
        rows = np.arange(self.num_games)[:, None]
        np.add.at(s.counts, (rows, np.arange(self.n_agents)[None, :], pulled), acting.astype(np.int64))
        np.add.at(s.sums, (rows, np.arange(self.n_agents)[None, :], pulled), reward)
        s.last_arm[g] = np.where(acting, arm, s.last_arm)[g]
        s.last_reward[g] = np.where(acting, reward, s.last_reward)[g]
        s.load[g] = load[g]
        s.regret[g] = regret[g]
        s.cumulative_regret[g] += regret[g]
        s.success[g] = success[g]
        s.t[g] += 1
        ended = np.broadcast_to((s.t >= self.horizon)[:, None], acting.shape)
        return reward, ended & acting, np.zeros_like(acting)

    def observe(self) -> dict[str, np.ndarray]:
        s, k = self.state, self.n_arms
        last = (s.last_arm[:, :, None] == np.arange(k)).astype(np.float32)
        a = self.n_agents
        return {
            "last_arm": last,
            "last_reward": s.last_reward.astype(np.float32)[:, :, None],
            "counts": s.counts.astype(np.float32),
            "mean_reward": (s.sums / np.maximum(s.counts, 1)).astype(np.float32),
            "load": np.repeat(s.load.astype(np.float32)[:, None, :], a, axis=1),
            "steps_left": np.repeat((self.horizon - s.t).astype(np.float32)[:, None, None], a, axis=1),
            "seat": self._seats.copy(),
        }

    def global_state(self) -> np.ndarray:
        s, g = self.state, self.num_games
        means = s.sums / np.maximum(s.counts, 1)
        return np.concatenate([s.counts.reshape(g, -1), means.reshape(g, -1), s.load,
                               (self.horizon - s.t)[:, None]], axis=1).astype(np.float32)

    def info(self) -> dict[str, np.ndarray]:
        s = self.state
        return {"success": s.success.copy(), "regret": s.regret.copy(),
                "cumulative_regret": s.cumulative_regret.copy(), "task": self._task}

    def render_text(self, game: int) -> str:
        s = self.state
        lines = [f"pull {s.t[game]}/{self.horizon}   arms' load: {' '.join(str(n) for n in s.load[game])}"]
        for agent in range(self.n_agents):
            last = s.last_arm[game, agent]
            lines.append(f"  player_{agent}: " + (f"arm {last}, paid {s.last_reward[game, agent]:g}" if last >= 0
                                                  else "no pull yet")
                         + f"   cumulative regret {s.cumulative_regret[game, agent]:.2f}")
        return "\n".join(lines)
