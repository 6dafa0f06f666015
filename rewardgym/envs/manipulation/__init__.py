"""Robot manipulation on MuJoCo: a Fetch-style gripper over a table (``rewardgym/Manip-<Task>-v0``).

``tasks.py`` defines the tasks (the table registration reads), ``scene.py`` the MJCF,
``env.py`` the Gymnasium env, ``render.py`` headless rendering, ``experts.py`` scripted
solvers and ``text.py`` the language interface. Seeds >= 1_000_000 are the held-out test range.

Importing this package does not import mujoco; ``env.py`` does, after choosing a headless
OpenGL backend (``MUJOCO_GL=egl``, else ``osmesa``) when none is set.
"""
