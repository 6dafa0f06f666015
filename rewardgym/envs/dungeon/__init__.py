"""A NetHack-like roguelike, natively batched (``rewardgym/Dungeon-<Task>-v0``).

``gym.make("rewardgym/Dungeon-Gold-v0")`` plays one game; ``gym.make_vec(id, num_envs=N)``
steps N games in one compiled call per step (numba; the single env is the batch of one).
The observations use NLE's keys, dtypes and shapes, the tasks are NLE's, Motif's and
MiniHack's, and the messages speak NetHack's voice, so code and reward models written for
NLE carry over.

Layout:
    ``content.py``   the tables: terrain, monsters, items, glyphs (this game's own ids, laid
                     out like NetHack's: monsters, objects, map symbols), actions, constants
    ``state.py``     the per-env state (arrays over the batch) and the rule settings, as the
                     compiled kernels take them
    ``levels.py``    level generation, one env at a time (compiled)
    ``rules.py``     the rules: reset and step of one env, and their loops over a batch (compiled)
    ``core.py``      :class:`~rewardgym.envs.dungeon.core.DungeonCore`, the settings and the batch
                     (a :class:`~rewardgym.envs.batched.BatchedCore`)
    ``display.py``   NLE's observation keys drawn from the state (compiled)
    ``render.py``    the ``ansi`` and ``rgb_array`` pictures (the tty in colour, as text or pixels)
    ``messages.py``  messages as codes, a table of strings and the byte tables the display
                     composes messages and status lines from; inventory rendering
    ``tasks.py``     the table of tasks that ``rewardgym.registration`` registers
    ``env.py``       ``DungeonEnv`` (batch 1 of the core) and ``DungeonVectorEnv``
    ``experts.py``   a scripted explorer (``expert_for(env)``) that shows the tasks are solvable
    ``party.py``     several adventurers on one level: the same rules, run per seat (compiled;
                     the multi-agent ``dungeon_party_v0`` is built on it)

The game (NetHack's rules, simplified — the choices are deliberate):

- **Levels**: up to nine rooms on a 3 x 3 grid of sectors joined by corridors through
  doorways, open doors and closed doors (walking into a closed door opens it, three times
  in four — NetHack's autoopen); a staircase up and one down in different rooms; gold in
  half the rooms, an item in a third; lit rooms show whole, dark ones and corridors only
  the squares next to the player. Levels are not stored: going back up rebuilds the level
  from its key with the same layout but without its loot (it was placed on the first visit)
  and with fresh monsters. The stairs up on level 1 lead out of the dungeon and refuse.
- **The player**: a neutral human adventurer with a +1 long sword and ring mail (AC 6),
  16 HP, and one food ration. Experience levels follow NetHack's table (20, 40, 80, ...
  points; a d8 of HP each); hit points regenerate one every 42 / (XL + 2) + 1 turns.
- **Monsters** (``content.MONSTERS``): 16 early NetHack monsters from newts and jackals to
  dwarves and violet fungi, chosen by NetHack's difficulty window (level between depth / 6
  and (depth + XL) / 2), one in a third of the rooms and one more every ~70 turns out of
  sight. They sleep or wake (one turn in seven when the player is in view), chase the
  player within 12 squares or wander, move at their speed (12 = one move a turn, at most
  one a turn), never diagonally through doors, and attack when adjacent (NetHack's to-hit
  roll, one damage die). Grid bugs move orthogonally; lichens touch harmlessly.
- **Items** (four classes, ``content.ITEMS``): gold (``$``), comestibles (``%``: food
  rations, apples, corpses — a killed monster leaves one half the time), potions (``!``:
  healing, hallucination) and scrolls (``?``: magic mapping, teleportation). Gold, potions
  and scrolls are picked up by walking onto them (NLE's ``pickup_types:$?!/``); food with
  ``,``. Eating, quaffing and reading act on the food underfoot first, else the first
  suitable item in the pack by letter — no item prompts, so the action space stays a flat
  ``Discrete``. Eating takes one turn. Items are shown identified.
- **Hunger**: 900 nutrition at the start, one less a turn, NetHack's states (Satiated,
  Hungry below 150, Weak below 50, Fainting at 0) and death by starvation below
  -(200 + 20 x Con).
- **Hallucination**: from a potion of hallucination (600-799 turns) or a violet fungus
  corpse (200 turns). While it lasts every monster in view shows a random monster glyph
  each turn — the Oracle's included — and messages name what is shown. ``blstats``'
  condition has NetHack's hallucination bit (0x200) and the status line says ``Hallu``.
- **The Oracle**: on one level between 5 and 9 (drawn per episode), in the centre room
  among four fountains; peaceful and immobile ("You stop.  The Oracle is in your way.").
  The Oracle task succeeds, as NLE's does, when an Oracle *glyph* is displayed next to the
  player, so hallucination can fake it — Motif's reward hack, kept as a probe; OracleSober
  also requires not hallucinating.
- **Death** ends the episode (terminated); the score is NetHack's in-game score.

Observations (NLE's names): ``glyphs``, ``chars``, ``colors``, ``specials``, ``blstats``,
``message``, ``inv_glyphs``, ``inv_letters``, ``inv_oclasses``, ``inv_strs``,
``tty_chars``, ``tty_colors``, ``tty_cursor``, and MiniHack's ``*_crop`` views; NLE's
``screen_descriptions``, ``internal`` and ``program_state`` are not provided.

Seeds: one seed, one dungeon; seeds >= 1_000_000 are the held-out test range.
"""
