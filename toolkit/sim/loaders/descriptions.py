"""Clip descriptions, so a clip's text travels with its motion.

Two sources:

* a CMU-style ``index.tsv``: a tab-separated file with a header row naming at least the columns ``clip`` and
  ``description`` (CMU excerpt: ``clip  format  path  description``). Without such a header the first column is
  taken as the clip and the last as the description. One text per clip.
* Bandai Namco Research Motion dataset names ``dataset-N_{content}_{style}_{take}.bvh`` (labels from the ``.json``
  beside the clip and the dataset's ``cfg/*_label.txt`` when present, else from the name): a structured
  :class:`ClipLabel` and several template sentences per clip (:func:`label_texts`: style as adjective or adverb,
  content as a verb phrase, what the arms do), e.g. "an elderly person waves the left hand".

:func:`describe_clip` gives the one main text (the index's, else the first template); :func:`clip_texts` every text.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from toolkit.sim.loaders.keyframes import SUFFIXES as KEYFRAME_SUFFIXES
from toolkit.sim.loaders.keyframes import script_texts

INDEX_NAME = "index.tsv"
#: How many parent folders above the clip's own folder are searched for an index.
MAX_PARENT_LEVELS = 3


@lru_cache(maxsize=32)
def _read_index(path: str, mtime_ns: int) -> dict[str, str]:
    del mtime_ns  # part of the cache key only
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r and any(c.strip() for c in r)]
    except OSError:
        return out
    if not rows:
        return out
    header = [c.strip().lower() for c in rows[0]]
    if "clip" in header and "description" in header:
        ci, di = header.index("clip"), header.index("description")
        rows = rows[1:]
    else:
        ci, di = 0, -1
    need = max(ci, di) + 1 if di >= 0 else 2
    for r in rows:
        if len(r) >= need:
            out.setdefault(r[ci].strip(), r[di].strip())
    return out


def describe_clip(path: str | Path) -> str:
    """The main description of the clip at ``path``: its ``index.tsv`` entry (looked up by file stem, e.g.
    ``"02_01"``), else the first Bandai template sentence, else ``""``."""
    texts = clip_texts(path)
    return texts[0] if texts else ""


def _indexed_description(path: str | Path) -> str:
    """The clip's ``index.tsv`` description (nearest index up to :data:`MAX_PARENT_LEVELS` folders up), or ``""``."""
    folder = Path(path).resolve().parent
    stem = Path(path).stem
    for _ in range(MAX_PARENT_LEVELS + 1):
        cand = folder / INDEX_NAME
        if cand.is_file():
            text = _read_index(str(cand), cand.stat().st_mtime_ns).get(stem)
            if text is not None:
                return text
        if folder.parent == folder:
            break
        folder = folder.parent
    return ""


# ----------------------------------------------------------------------------------------------------------------
# Bandai Namco Research Motion datasets: structured labels -> several template sentences per clip
# ----------------------------------------------------------------------------------------------------------------

#: ``dataset-N_{content}_{style}_{take}`` (content and style may contain hyphens, never underscores).
BANDAI_NAME = re.compile(r"^dataset-(\d+)_([a-z-]+)_([a-z-]+)_(\d+)$")

#: content label -> (third-person verb phrase, gerund phrase, what the arms / body do).
CONTENT_PHRASES: dict[str, tuple[str, str, str]] = {
    "walk": ("walks", "walking", "the arms swing at the sides with each step"),
    "run": ("runs", "running", "the arms pump back and forth with bent elbows"),
    "dash": ("sprints", "sprinting", "the arms pump fast beside the body"),
    "walk-back": ("walks backwards", "walking backwards", "the arms swing at the sides while stepping back"),
    "walk-left": ("walks sideways to the left", "walking sideways to the left", "the arms hang while stepping left"),
    "walk-right": ("walks sideways to the right", "walking sideways to the right",
                   "the arms hang while stepping right"),
    "walk-turn-left": ("walks and turns left", "walking and turning left", "the body turns left while the arms swing"),
    "walk-turn-right": ("walks and turns right", "walking and turning right",
                        "the body turns right while the arms swing"),
    "bow": ("bows", "bowing", "the upper body bends forward with the arms hanging"),
    "bye": ("waves goodbye", "waving goodbye", "one hand is raised and waved"),
    "byebye": ("waves goodbye again and again", "waving goodbye again and again",
               "a raised hand waves from side to side"),
    "guide": ("points the way", "pointing the way", "one arm stretches out to show the direction"),
    "respond": ("responds with a gesture", "responding with a gesture", "the hands move in front of the chest"),
    "call": ("calls someone over", "calling someone over", "one hand beckons in front of the body"),
    "punch": ("throws punches", "throwing punches", "the fists strike forward from the shoulders"),
    "kick": ("kicks", "kicking", "one leg kicks forward while the arms balance"),
    "slash": ("slashes with a sword", "slashing with a sword", "the arms swing down hard across the body"),
    "dance-long": ("dances", "dancing", "the arms and legs move to a rhythm"),
    "dance-short": ("dances briefly", "dancing briefly", "the arms and legs move to a rhythm"),
    "run-turn": ("runs and turns", "running and turning", "the arms pump while the body turns"),
    "wave-both-hands": ("waves both hands", "waving both hands", "both arms are raised and wave side to side"),
    "wave-left-hand": ("waves the left hand", "waving the left hand",
                       "the left arm is raised and waves side to side"),
    "wave-right-hand": ("waves the right hand", "waving the right hand",
                        "the right arm is raised and waves side to side"),
    "raise-up-both-hands": ("raises both hands", "raising both hands", "both arms lift up above the head"),
    "raise-up-left-hand": ("raises the left hand", "raising the left hand", "the left arm lifts up above the head"),
    "raise-up-right-hand": ("raises the right hand", "raising the right hand",
                            "the right arm lifts up above the head"),
}

#: style label -> (adjective for "a ... person", adverbial phrase; "" = neutral).
STYLE_PHRASES: dict[str, tuple[str, str]] = {
    "normal": ("", ""),
    "happy": ("happy", "happily"),
    "sad": ("sad", "sadly"),
    "angry": ("angry", "angrily"),
    "proud": ("proud", "proudly"),
    "not-confident": ("unsure", "hesitantly"),
    "masculinity": ("masculine", "in a masculine way"),
    "masculine": ("masculine", "in a masculine way"),
    "feminine": ("feminine", "in a feminine way"),
    "childish": ("childlike", "like a child"),
    "old": ("old", "slowly like an old person"),
    "elderly": ("elderly", "slowly like an old person"),
    "tired": ("tired", "in a tired way"),
    "exhausted": ("exhausted", "wearily"),
    "active": ("energetic", "energetically"),
    "youthful": ("young", "with youthful energy"),
    "musical": ("theatrical", "like in a musical"),
    "giant": ("heavy", "with heavy steps like a giant"),
    "chimpira": ("swaggering", "with a thuggish swagger"),
}


@dataclass(frozen=True)
class ClipLabel:
    """Structured label of a Bandai-style clip (content and style as in the dataset's ``cfg`` files)."""

    dataset: str  #: "dataset-1" / "dataset-2"
    content: str  #: e.g. "wave-left-hand"
    style: str  #: e.g. "elderly"
    take: int

    @property
    def key(self) -> str:
        """One string per (content, style): clips with the same key share their texts."""
        return f"{self.content}|{self.style}"


def _label_lines(path: Path) -> list[str]:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return []
    return [re.sub(r"^dataset-\d+_", "", ln) for ln in lines if ln]


def bandai_label(path: str | Path) -> ClipLabel | None:
    """The label of a clip named ``dataset-N_{content}_{style}_{take}.*``, or None for other names.

    When ``<stem>.json`` (``{"content": i, "style": j}``) and ``../cfg/{content,style}_label.txt`` lie beside the
    clip, their labels win over the name (the dataset's own label files); otherwise the name is parsed.
    """
    p = Path(path)
    m = BANDAI_NAME.match(p.stem)
    if m is None:
        return None
    dataset, content, style, take = f"dataset-{m.group(1)}", m.group(2), m.group(3), int(m.group(4))
    js = p.with_suffix(".json")
    if js.is_file():
        try:
            idx = json.loads(js.read_text(encoding="utf-8"))
            contents = _label_lines(p.parent.parent / "cfg" / "content_label.txt")
            styles = _label_lines(p.parent.parent / "cfg" / "style_label.txt")
            ci, si = int(idx["content"]), int(idx["style"])
            if 0 <= ci < len(contents) and 0 <= si < len(styles):
                content, style = contents[ci], styles[si]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable label file: the name's labels stand
    return ClipLabel(dataset, content, style, take)


def _article(adjective: str) -> str:
    return "an" if adjective[:1] in "aeiou" else "a"


def label_texts(label: ClipLabel) -> list[str]:
    """At least 4 distinct template sentences for ``label`` (style, content, body part), first = the main one.

    Unknown contents fall back to the label words ("does <content>"); unknown styles to "in a <style> way".
    """
    verb, gerund, body = CONTENT_PHRASES.get(
        label.content, (f"does {label.content.replace('-', ' ')}", f"doing {label.content.replace('-', ' ')}",
                        "the whole body moves")  # fmt: skip
    )
    style_words = label.style.replace("-", " ")
    adj, adv = STYLE_PHRASES.get(label.style, (style_words, f"in a {style_words} way"))
    who = f"{_article(adj)} {adj} person" if adj else "a person"
    how = f" {adv}" if adv else ""
    texts = [
        f"{who} {verb}",
        f"someone {verb}{how}",
        f"a person {verb}{how}: {body}",
        f"{gerund}{how}",
        f"the {adj + ' ' if adj else ''}person is {gerund}; {body}",
        f"{who} {verb}",  # duplicate of the first on purpose for neutral styles: removed below
        f"a person {verb}",
    ]
    out: list[str] = []
    for t in texts:
        if t not in out:
            out.append(t)
    return out


def clip_texts(path: str | Path) -> list[str]:
    """Every text of the clip at ``path``: Bandai-style names -> :func:`label_texts`; otherwise the one
    ``index.tsv`` description (an empty list when there is none); a keyframe script's own ``texts``."""
    if Path(path).suffix.lower() in KEYFRAME_SUFFIXES:
        return script_texts(path)
    text = _indexed_description(path)
    if text:
        return [text]
    label = bandai_label(path)
    return label_texts(label) if label is not None else []
