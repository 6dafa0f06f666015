"""Multi-armed bandits over a leading batch axis.

One parameterised core covers the family: Bernoulli or Gaussian arms, stationary or
drifting means (non-stationary bandits), an optional linear context (contextual bandits),
and an optional history summary in the observation (the meta-bandit setting in which an
agent must learn to explore from what it has seen, as in "When Greedy Wins").

Every episode is one bandit problem of ``horizon`` pulls. The instance (arm means, or the
arm parameters of a contextual bandit) is drawn at reset from the episode key — a fresh
instance each episode — unless ``instance_seed`` pins one instance for every episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rewardgym.envs import rng
from rewardgym.envs.batched import BatchedCore, checked_actions, masked_info
from rewardgym.envs.jit import njit, normal, split, uniform

# Counter-RNG streams: one per kind of draw, so that adding a draw never shifts another.
_INSTANCE, _REWARD, _CONTEXT, _DRIFT = 0, 1, 2, 3


@dataclass
class BanditState:
    key: np.ndarray  # (B,) uint64 episode key
    t: np.ndarray  # (B,) pulls so far this episode
    means: np.ndarray  # (B, k) current expected reward of each arm (non-contextual)
    theta: np.ndarray  # (B, k, d) arm parameters (contextual; d = 0 otherwise)
    context: np.ndarray  # (B, d) context of the next pull
    last_arm: np.ndarray  # (B,) -1 before the first pull
    last_reward: np.ndarray  # (B,)
    counts: np.ndarray  # (B, k) pulls of each arm
    sums: np.ndarray  # (B, k) reward collected from each arm
    regret: np.ndarray  # (B,) expected regret of the last pull
    cumulative_regret: np.ndarray  # (B,)
    best_pulled: np.ndarray  # (B,) bool: the last pull was of a best arm
    best_pulls: np.ndarray  # (B,) pulls of a best arm this episode
    late_best_pulls: np.ndarray  # (B,) pulls of a best arm in the episode's second half


class BanditCore(BatchedCore):
    """``num_envs`` bandits stepped together.

    Args:
        num_envs: batch size.
        n_arms: number of arms k (>= 2).
        horizon: pulls per episode.
        distribution: ``"bernoulli"`` (means ~ U(0, 1), rewards in {0, 1}) or ``"gaussian"``
            (means ~ N(0, 1), rewards ~ N(mean, noise_std²)).
        drift: std of the Gaussian random walk the means take after every pull (0: stationary).
            Bernoulli means are reflected back into [0, 1].
        context_dim: d > 0 makes a linear contextual bandit: a context x ~ N(0, I_d) is shown
            before each pull, arm a pays θ_a·x plus noise (θ_a ~ N(0, I_d / d)); Bernoulli
            contextual arms pay 1 with probability sigmoid(θ_a·x).
        history: add per-arm pull counts, mean rewards and the pulls left to the observation.
        instance_seed: pin one problem instance for every episode (None: fresh each episode).
        noise_std: reward noise of Gaussian arms.
    """

    def __init__(self, num_envs: int, n_arms: int, horizon: int, distribution: str = "bernoulli",
                 drift: float = 0.0, context_dim: int = 0, history: bool = False,
                 instance_seed: int | None = None, noise_std: float = 1.0):
        super().__init__(num_envs)
        if n_arms < 2:
            raise ValueError(f"n_arms must be >= 2, got {n_arms}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if distribution not in ("bernoulli", "gaussian"):
            raise ValueError(f"distribution must be 'bernoulli' or 'gaussian', got {distribution!r}")
        if drift < 0 or context_dim < 0 or noise_std < 0:
            raise ValueError("drift, context_dim and noise_std must be non-negative")
        if drift and context_dim:
            raise ValueError("drift applies to non-contextual bandits only")
        if noise_std != 1.0 and distribution != "gaussian":
            raise ValueError(f"noise_std={noise_std} does nothing with distribution={distribution!r}: it is the reward "
                             f"noise of Gaussian arms (distribution='gaussian')")
        self.n_arms, self.horizon, self.distribution = n_arms, horizon, distribution
        self.drift, self.context_dim, self.history, self.noise_std = drift, context_dim, history, noise_std
        self.instance_key = None if instance_seed is None else rng.seed_key(instance_seed)

        b, k, d = num_envs, n_arms, context_dim
        self.state = BanditState(
            key=np.zeros(b, np.uint64), t=np.zeros(b, np.int64), means=np.zeros((b, k)),
            theta=np.zeros((b, k, d)), context=np.zeros((b, d)), last_arm=np.full(b, -1, np.int64),
            last_reward=np.zeros(b), counts=np.zeros((b, k), np.int64), sums=np.zeros((b, k)),
            regret=np.zeros(b), cumulative_regret=np.zeros(b), best_pulled=np.zeros(b, bool),
            best_pulls=np.zeros(b, np.int64), late_best_pulls=np.zeros(b, np.int64),
        )

        low, high = (0.0, 1.0) if distribution == "bernoulli" else (-np.inf, np.inf)
        obs = {
            "last_arm": spaces.Box(0.0, 1.0, (k,), np.float32),
            "last_reward": spaces.Box(low, high, (1,), np.float32),
        }
        if d:
            obs["context"] = spaces.Box(-np.inf, np.inf, (d,), np.float32)
        if history:
            obs["counts"] = spaces.Box(0.0, float(horizon), (k,), np.float32)
            obs["mean_reward"] = spaces.Box(low, high, (k,), np.float32)
            obs["steps_left"] = spaces.Box(0.0, float(horizon), (1,), np.float32)
        self.single_observation_space = spaces.Dict(obs)
        self.single_action_space = spaces.Discrete(k)
        # (Bernoulli arms, reward noise, drift, horizon, history) as the step kernel takes them
        self._settings = (distribution == "bernoulli", float(noise_std), float(drift), int(horizon), bool(history))
        self.task = self._describe_task()
        self._task = np.full(b, self.task, dtype=object)

    def _describe_task(self) -> str:
        k, h = self.n_arms, self.horizon
        pays = ("pays 1 with an unknown probability, else 0" if self.distribution == "bernoulli"
                else "pays a noisy reward around an unknown mean")
        text = f"There are {k} arms, numbered 0 to {k - 1}. Each {pays}"
        if self.context_dim:
            text += " that depends on the context shown before each pull"
        text += f". Pull one arm at a time, {h} pulls in all, to collect as much reward as you can."
        if self.drift:
            text += " The arms' payoffs drift slowly over time."
        return text

    # -- transition ---------------------------------------------------------------------
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        s, n, k, d = self.state, int(mask.sum()), self.n_arms, self.context_dim
        s.key[mask] = keys
        instance = keys if self.instance_key is None else np.full(n, self.instance_key, np.uint64)
        if d:
            s.theta[mask] = rng.normal(instance, 0, _INSTANCE, (k, d)) / np.sqrt(d)
            s.context[mask] = rng.normal(keys, 0, _CONTEXT, (d,))
        elif self.distribution == "bernoulli":
            s.means[mask] = rng.uniform(instance, 0, _INSTANCE, (k,))
        else:
            s.means[mask] = rng.normal(instance, 0, _INSTANCE, (k,))
        s.t[mask] = 0
        s.last_arm[mask] = -1
        for name in ("last_reward", "counts", "sums", "regret", "cumulative_regret", "best_pulled",
                     "best_pulls", "late_best_pulls"):
            getattr(s, name)[mask] = 0

    def expected_rewards(self, sel=slice(None)) -> np.ndarray:
        """Expected reward of every arm at the current step, (B, k) (the step kernel's own numbers)."""
        s = self.state
        rows = np.arange(self.num_envs)[sel].reshape(-1)
        out = np.empty((rows.size, self.n_arms))
        _expected_rewards(s.means, s.theta, s.context, self._settings[0], rows, out)
        return out

    def step(self, action: np.ndarray, active: np.ndarray):
        s, n = self.state, self.num_envs
        action = checked_actions(action, n, self.n_arms)  # the kernel does not check bounds
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        split(_step, n, s.key, s.t, s.means, s.theta, s.context, s.last_arm, s.last_reward, s.counts, s.sums,
              s.regret, s.cumulative_regret, s.best_pulled, s.best_pulls, s.late_best_pulls, action,
              np.asarray(active, bool), reward, terminated, truncated, self._settings)
        return reward, terminated, truncated

    # -- observation and info -----------------------------------------------------------
    def observe(self) -> dict[str, np.ndarray]:
        s, b = self.state, self.num_envs
        last_arm = np.zeros((b, self.n_arms), np.float32)
        pulled = s.last_arm >= 0
        last_arm[pulled, s.last_arm[pulled]] = 1.0
        obs = {"last_arm": last_arm, "last_reward": s.last_reward.astype(np.float32)[:, None]}
        if self.context_dim:
            obs["context"] = s.context.astype(np.float32)
        if self.history:
            obs["counts"] = s.counts.astype(np.float32)
            obs["mean_reward"] = (s.sums / np.maximum(s.counts, 1)).astype(np.float32)
            obs["steps_left"] = (self.horizon - s.t).astype(np.float32)[:, None]
        return obs

    def info(self, ended: np.ndarray) -> dict:
        s = self.state
        best_pulled = s.best_pulled.copy()
        values = {
            "success": best_pulled, "best_arm_pulled": best_pulled,
            "regret": s.regret.copy(), "cumulative_regret": s.cumulative_regret.copy(), "task": self._task,
        }
        late_half = self.horizon - self.horizon // 2
        end = {
            "best_arm_fraction": s.best_pulls / np.maximum(s.t, 1),
            "suffix_failure": (s.late_best_pulls == 0) & (s.t >= self.horizon) & (late_half > 0),
        }
        return masked_info(values, ended, end)

    def render_text(self, index: int) -> str:
        s = self.state
        lines = [f"pull {s.t[index]}/{self.horizon}   cumulative regret {s.cumulative_regret[index]:.2f}"]
        if s.last_arm[index] >= 0:
            lines.append(f"last: arm {s.last_arm[index]} paid {s.last_reward[index]:g}")
        for arm in range(self.n_arms):
            n = s.counts[index, arm]
            mean = s.sums[index, arm] / n if n else float("nan")
            lines.append(f"  arm {arm:>2}: {n:>5} pulls   mean {mean:6.3f}")
        return "\n".join(lines)


@njit
def _expected(means, theta, context, bernoulli, b, a):
    """Arm ``a``'s expected reward in env ``b`` at this step: its mean, or under the context θ_a·x (through a
    sigmoid for Bernoulli arms)."""
    if not context.shape[1]:
        return means[b, a]
    value = 0.0
    for j in range(context.shape[1]):
        value += theta[b, a, j] * context[b, j]
    return 1.0 / (1.0 + np.exp(-value)) if bernoulli else value


@njit
def _expected_rewards(means, theta, context, bernoulli, rows, out):
    for i in range(rows.size):
        for a in range(out.shape[1]):
            out[i, a] = _expected(means, theta, context, bernoulli, rows[i], a)


@njit
def _step(key, t, means, theta, context, last_arm, last_reward, counts, sums, regret, cumulative_regret, best_pulled,
          best_pulls, late_best_pulls, actions, active, reward, terminated, truncated, settings, start, stop):
    """One pull in each env ``start..stop`` where ``active``: the reward, the regret and the counts, then the
    drift of the means or the next context; ``terminated``/``truncated`` at the horizon (every env)."""
    bernoulli, noise_std, drift, horizon, history = settings
    arms, dims = means.shape[1], context.shape[1]
    for b in range(start, stop):
        if active[b]:
            arm, now = actions[b], t[b]
            chosen, best = 0.0, -np.inf
            for a in range(arms):
                value = _expected(means, theta, context, bernoulli, b, a)
                best = max(best, value)
                if a == arm:
                    chosen = value
            if bernoulli:
                paid = 1.0 if uniform(key[b], now, _REWARD, 0) < chosen else 0.0
            else:
                paid = chosen + noise_std * normal(key[b], now, _REWARD, 0)
            counts[b, arm] += 1
            sums[b, arm] += paid
            regret[b] = best - chosen
            cumulative_regret[b] += best - chosen
            best_pulled[b] = chosen >= best
            best_pulls[b] += chosen >= best
            late_best_pulls[b] += chosen >= best and now >= horizon // 2
            last_arm[b], last_reward[b], reward[b] = arm, paid, paid
            t[b] = now = now + 1
            if drift and not dims:
                for a in range(arms):
                    mean = means[b, a] + drift * normal(key[b], now, _DRIFT, a)
                    means[b, a] = 1.0 - abs(1.0 - np.mod(mean, 2.0)) if bernoulli else mean  # reflect into [0, 1]
            for j in range(dims):
                context[b, j] = normal(key[b], now, _CONTEXT, j)
        # With the history in the observation the horizon is part of the problem (terminal); without it, the end
        # of the episode is a time limit the agent cannot see.
        ended = t[b] >= horizon
        terminated[b], truncated[b] = ended and history, ended and not history
