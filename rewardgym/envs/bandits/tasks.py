"""The bandit tasks that :mod:`rewardgym.registration` registers: name -> (description, kwargs)."""

from __future__ import annotations

TASKS: dict[str, tuple[str, dict]] = {
    **{
        f"Bernoulli{k}": (f"{k}-armed Bernoulli bandit, means ~ U(0,1), 1000 pulls", {"n_arms": k, "horizon": 1000})
        for k in (2, 5, 10, 50)
    },
    "Gaussian10": ("10-armed Gaussian bandit, means ~ N(0,1), unit noise, 1000 pulls",
                   {"n_arms": 10, "horizon": 1000, "distribution": "gaussian"}),
    "NonStationary10": ("10-armed Bernoulli bandit whose means drift (random walk, std 0.01 a pull), 1000 pulls",
                        {"n_arms": 10, "horizon": 1000, "drift": 0.01}),
    "Contextual5": ("linear contextual bandit: 5 arms, 8-d Gaussian contexts, noise std 0.5, 1000 pulls",
                    {"n_arms": 5, "horizon": 1000, "distribution": "gaussian", "context_dim": 8, "noise_std": 0.5}),
    "Meta5": ("meta-bandit: a fresh 5-armed Bernoulli instance each episode of 25 pulls; sees its history",
              {"n_arms": 5, "horizon": 25, "history": True}),
    "Meta2": ("meta-bandit: a fresh 2-armed Bernoulli instance each episode of 20 pulls; sees its history",
              {"n_arms": 2, "horizon": 20, "history": True}),
}
