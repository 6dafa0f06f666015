"""Workflows: what uses envs, reward models, wrappers and agents together.

* :mod:`~rewardgym.workflows.training`: the training run behind ``rewardgym train`` (envs for
  an agent, the learned reward on them, the run folder, closing the model at the end);
* :mod:`~rewardgym.workflows.runs`: run folders (config, metrics, TensorBoard, checkpoints, curves);
* :mod:`~rewardgym.workflows.demos` and :mod:`~rewardgym.workflows.experts`: demonstrations of
  the scripted experts, on disk; :mod:`~rewardgym.workflows.rollout`: the episode loop they share
  with reward evaluation;
* :mod:`~rewardgym.workflows.reward_eval`: judging a reward before training on it;
* :mod:`~rewardgym.workflows.progress`: fitting a progress model on demonstrations;
* :mod:`~rewardgym.workflows.synthesis`: Eureka's search for LLM-written reward code.

Nothing below this layer imports it; the ``rewardgym`` command sits on top.
"""
