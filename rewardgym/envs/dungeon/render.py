"""Pictures of the dungeon: ``ansi`` (coloured terminal text) and ``rgb_array`` (the terminal drawn in pixels).

Both draw the 24 x 80 tty that NLE shows — the message line, the map and the two status
lines — in NetHack's 16 colours. ``rgb_array`` draws each character from a fixed 6 x 11
bitmap font (Pillow's built-in one, so no font file and the same pixels everywhere) into a
``CELL_W`` x ``CELL_H`` cell: a frame is 640 x 336 pixels. The font is rasterised once
into an atlas of every (character, colour) pair, so a frame is one NumPy gather, and a
batch of frames (``gym.make_vec(..., render_mode="rgb_array")``) is the same gather with
one more axis.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rewardgym.envs.dungeon import content as C

CELL_W, CELL_H = 8, 14
FRAME_SHAPE = (C.TTY_ROWS * CELL_H, C.TTY_COLS * CELL_W, 3)

# NetHack's colours in RGB, as a curses terminal shows them (index 0 drawn dark blue-grey so
# that black things stay visible on the black background, as NetHack's own tiles port does).
PALETTE = np.array([
    (64, 64, 96), (170, 0, 0), (0, 170, 0), (170, 85, 0), (0, 0, 170), (170, 0, 170), (0, 170, 170),
    (170, 170, 170), (85, 85, 85), (255, 85, 85), (85, 255, 85), (255, 255, 85), (85, 85, 255),
    (255, 85, 255), (85, 255, 255), (255, 255, 255)], np.uint8)


@lru_cache(maxsize=1)
def atlas() -> np.ndarray:
    """(256, 16, CELL_H, CELL_W, 3) uint8: every byte drawn in every colour (non-printable bytes blank)."""
    from PIL import ImageFont

    font = ImageFont.load_default_imagefont()
    masks = np.zeros((256, CELL_H, CELL_W), bool)
    for code in range(33, 127):
        mask = font.getmask(chr(code))
        width, height = mask.size
        bitmap = np.array(mask, np.uint8).reshape(height, width) > 0
        top, left = (CELL_H - height) // 2, (CELL_W - width) // 2
        masks[code, top:top + height, left:left + width] = bitmap[:CELL_H, :CELL_W]
    return np.where(masks[:, None, :, :, None], PALETTE[None, :, None, None, :], np.uint8(0))


def rgb_frames(chars: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Frames (n, 336, 640, 3) of ttys ``chars`` (n, 24, 80) uint8 and ``colors`` (n, 24, 80)."""
    cells = atlas()[chars, np.asarray(colors, np.int64) & 15]  # (n, 24, 80, CELL_H, CELL_W, 3)
    n = cells.shape[0]
    return cells.transpose(0, 1, 3, 2, 4, 5).reshape(n, *FRAME_SHAPE)


def rgb_array(core, b: np.ndarray) -> np.ndarray:
    """Frames of envs ``b`` of a dungeon core, (len(b), 336, 640, 3) uint8."""
    from rewardgym.envs.dungeon.display import observe

    obs = observe(core, np.asarray(b), ("tty_chars", "tty_colors"))
    return rgb_frames(obs["tty_chars"], obs["tty_colors"])


def _sgr(color: int) -> str:
    """The ANSI escape of a NetHack colour (0-7 normal, 8-15 bright)."""
    return f"\x1b[{30 + color if color < 8 else 90 + color - 8}m"


def ansi(core, index: int) -> str:
    """The tty of env ``index`` in coloured terminal text (Gymnasium's ``ansi`` render mode)."""
    from rewardgym.envs.dungeon.display import observe

    obs = observe(core, np.array([index]), ("tty_chars", "tty_colors"))
    return tty_ansi(obs["tty_chars"][0], obs["tty_colors"][0])


def tty_ansi(chars: np.ndarray, colors: np.ndarray) -> str:
    """A tty (24 x 80 chars and colours) as coloured terminal text."""
    lines = []
    for row in range(C.TTY_ROWS):
        parts, current = [], None
        for ch, color in zip(bytes(chars[row]).decode("latin-1").rstrip().ljust(1), colors[row]):
            color = int(color) if ch != " " else current
            if color is not None and color != current:
                parts.append(_sgr(color))
                current = color
            parts.append(ch)
        lines.append("".join(parts).rstrip() + ("\x1b[0m" if current is not None else ""))
    return "\n".join(lines)
