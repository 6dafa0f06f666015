"""GUI tasks without a browser: screens of widgets drawn to pixels, with a matching element tree.

The kind of tasks MiniWoB++ and AndroidWorld pose — click a button, log in, pick a date, find
an item in a shop and check out — on a small widget toolkit drawn with Pillow, fast enough for
reinforcement learning and deterministic to the byte.

- :mod:`.widgets`: the toolkit (button, text field, checkbox, radio group, dropdown, scrolling
  list, slider, tabs, menu, dialog, date picker, labels) as flat elements, and a page builder.
- :mod:`.screen`: a page of elements, focus and pointer, and what clicks, typing, keys,
  scrolling and dragging do to it.
- :mod:`.render`: tiles cached per look, text cached per string, a screen redrawn only where it
  changed; DejaVu Sans ships in ``fonts/`` with its licence.
- :mod:`.tasks` (MiniWoB-style, one screen) and :mod:`.apps` (settings, contacts, notes, shop:
  several pages, success read from the app's data).
- :mod:`.env`: :class:`~rewardgym.envs.gui.env.GUIEnv`, its spaces, action modes and reward.
- :mod:`.text`: the element tree in words and BrowserGym-style commands.
- :mod:`.experts`: a scripted oracle for every task.

``docs/gui.md`` is the user guide.
"""
