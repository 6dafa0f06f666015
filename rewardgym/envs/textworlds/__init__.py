"""Procedural text adventures (``rewardgym/Text-<Task>-v0``): TextWorld's games, generated from a seed.

``gym.make("rewardgym/Text-Cooking-v0", difficulty=3)`` plays one interactive-fiction game per
episode, in free text or by choosing among the admissible commands. Each game comes with a
planned walkthrough, dense or sparse rewards, and the knobs of TextWorld's generator
(rooms, objects, quest length, distractors, closed and locked doors). See ``docs/textworlds.md``.

Layout:
    ``content.py``    the tables: rooms and furniture, foods, household things, treasures, coins
    ``world.py``      :class:`~rewardgym.envs.textworlds.world.Game` (fixed per game),
                      :class:`~rewardgym.envs.textworlds.world.State` (what commands change, as flat
                      lists) and :class:`~rewardgym.envs.textworlds.world.World` (scope, descriptions)
    ``parser.py``     free text -> verb and object words (synonyms, articles, particles)
    ``rules.py``      words -> things, what each command needs and does, the admissible commands
    ``quests.py``     per task kind: points per subgoal, winning and losing
    ``generator.py``  knobs and difficulty presets, seeded map and placement, keys and locks,
                      the planner that writes each game's walkthrough
    ``env.py``        ``TextWorldEnv`` (spaces, rewards, info, state snapshots)
    ``text.py``       the language interface (``env.unwrapped.text_adapter``)
    ``tasks.py``      the ids that ``rewardgym.registration`` registers

The world (the rules, simplified from Inform's — the choices are deliberate):

- **Map**: rooms joined north/south/east/west as a tree (exits agree both ways), some through
  doors that are open, closed or locked; a locked door or chest opens with the key named after
  it ("iron key" for the "iron door").
- **Things**: furniture is a container (fridge, wardrobe; some have a lid that opens and closes)
  or a supporter (table, counter); the contents of closed containers are out of sight.
  Portable things go to the inventory, which has no limit. Every thing has a name unique in its
  game; the player may name it by any of its words ("key", "red key").
- **Commands**: look, inventory, examine, go, take (from), drop, put in/on, open, close,
  unlock/lock with, eat, read, slice/dice/chop with a knife, cook with the stove (fry), the oven
  (roast) or the BBQ (grill), clean in the sink, heat with the microwave, cool with the fridge,
  prepare meal, score, help. Food, cutting and cooking need the thing in hand. A refused or
  misunderstood command changes nothing and does not count as a move.
- **Tasks**: *cooking* — read the recipe in the cookbook, gather the ingredients, cut and cook
  each as it says, then ``prepare meal`` in the kitchen and ``eat meal``; a cut or cooking the
  recipe does not ask for, cooking twice (burning), eating an ingredient or preparing the meal
  too early loses the game. *household* — put a (clean / hot / cool) thing of a kind in or on a
  receptacle, as in ALFWorld. *treasure* — find the named object (behind locked doors and a
  locked chest on harder levels) and take it. *coins* — collect every coin.
- **Scoring**: each subgoal pays 1 point the first time (taking an ingredient or the goal
  object, each correct preparation step, each lock on the way to a treasure, each coin,
  preparing and eating the meal, placing the object).
"""
