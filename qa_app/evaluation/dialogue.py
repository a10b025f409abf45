"""The conversational retrieval benchmark: multi-turn dialogues made from SQuAD, by rule.

A dialogue is `turns` answerable questions of one article asked in a row (SQuAD order, so mostly
about one paragraph and then the next). The first turn is asked as written. Every later turn is
made to lean on the conversation by three deterministic rules, applied in order:

1. the article's subject (its title, e.g. "Scottish Parliament", or its plural) becomes a pronoun
   ("it" / "they", possessive "its" / "their");
2. an earlier turn's gold answer named in the question becomes "it";
3. a question that repeats the first four or more words of the previous one keeps only the rest:
   "What about <rest>?".

A later turn that no rule changed stays self-contained (`kind == "self-contained"`); a changed one
is `"dependent"`. After the dialogue one more turn changes the topic: the first question of the next
dialogue from another article, as written (`"topic-shift"`), to show that the conversation does not
pollute an unrelated question.

History is gold: each earlier turn carries its gold answer and where it stands in the article, as
if the reader had answered right (the end-to-end follow-ups of the real-document benchmark measure
the rest). Pure: no model, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from qa_app.data.squad import QAExample

KINDS = ("dependent", "self-contained", "topic-shift")
MIN_SHARED_PREFIX = 4  # words a question must share with the previous one for the "What about" rule
MIN_ANSWER_CHARS = 3  # shorter answers ("a", "10") are not replaced: too many accidental matches


@dataclass(frozen=True)
class DialogueTurn:
    example: QAExample  # the SQuAD question as written (gold answers, article, paragraph)
    asked: str  # the question as asked in the dialogue
    kind: str  # "first", or one of KINDS
    rules: tuple[str, ...] = ()  # which rules changed it: "subject", "answer", "what-about"


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: tuple[DialogueTurn, ...]


def subject_forms(title: str) -> tuple[str, str]:
    """The subject named by an article title, as (singular, plural): "Sky_(United_Kingdom)" ->
    ("Sky", "Skys"), "Fresno,_California" -> ("Fresno", "Fresnos"), "Normans" -> ("Norman", "Normans")."""
    name = re.sub(r"_\(.*\)$", "", title).split(",")[0].replace("_", " ").strip()
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1], name
    return name, name + "s"


def _replace(pattern: str, replacement: str, text: str) -> str:
    return re.sub(pattern, replacement, text, flags=re.IGNORECASE)


_OBJECT_BEFORE = frozenset(
    "about of in on at to for by with from into against over under than between during after before among "
    "through within without toward towards".split()
)
_BE = frozenset("is are was were be been".split())  # "What religion were the Normans?" -> "were they"


def _pronoun(match: re.Match[str], text: str, subject: str, object_: str) -> str:
    """"they" or "them": the object form after a preposition or at the end of the question."""
    before = [w.lower() for w in text[:match.start()].split()]
    at_end = not text[match.end():].strip(" ?.") and not (before and before[-1] in _BE)
    return object_ if at_end or (before and before[-1] in _OBJECT_BEFORE) else subject


def replace_subject(question: str, title: str) -> str:
    """The question with the article's subject turned into a pronoun (unchanged when not named)."""
    singular, plural = subject_forms(title)
    out = question
    for name, subject, object_, possessive in ((plural, "they", "them", "their"), (singular, "it", "it", "its")):
        words = r"\s+".join(re.escape(w) for w in name.split())
        out = _replace(rf"\b(?:the\s+)?{words}(?:'s|’s|'(?=\s)|’(?=\s))", possessive, out)
        current = out
        out = re.sub(rf"\b(?:the\s+)?{words}\b", lambda m: _pronoun(m, current, subject, object_), out,
                     flags=re.IGNORECASE)
    return _capitalise(out) if out != question else question


def replace_answers(question: str, answers: Sequence[str]) -> str:
    """The question with any earlier answer it names turned into "it"."""
    out = question
    for answer in answers:
        answer = answer.strip().rstrip(".")
        if len(answer) < MIN_ANSWER_CHARS:
            continue
        out = _replace(rf"(?<!\w)(?:the\s+)?{re.escape(answer)}(?!\w)", "it", out)
    return _capitalise(out) if out != question else question


def what_about(question: str, previous: str) -> str:
    """"What about <rest>?" when the question repeats the previous question's first words."""
    mine, theirs = question.rstrip(" ?").split(), previous.rstrip(" ?").split()
    shared = 0
    while shared < min(len(mine), len(theirs)) and mine[shared].lower() == theirs[shared].lower():
        shared += 1
    rest = mine[shared:]
    if shared < MIN_SHARED_PREFIX or not rest:
        return question
    return f"What about {' '.join(rest)}?"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def make_dependent(example: QAExample, earlier: Sequence[QAExample], previous_asked: str) -> DialogueTurn:
    """One later turn of a dialogue, rewritten by the rules that apply."""
    asked, rules = example.question.strip(), []
    for rule, rewrite in (
        ("subject", lambda q: replace_subject(q, example.title)),
        ("answer", lambda q: replace_answers(q, [e.answers[0].text for e in earlier if e.answers])),
        ("what-about", lambda q: what_about(q, previous_asked)),
    ):
        changed = rewrite(asked)
        if changed != asked and len(changed.split()) >= 2:
            asked = changed
            rules.append(rule)
    return DialogueTurn(example=example, asked=asked, kind="dependent" if rules else "self-contained",
                        rules=tuple(rules))


def build_dialogues(examples: Sequence[QAExample], turns: int = 3) -> list[Dialogue]:
    """Dialogues of `turns` answerable questions per article, in article order, each followed by a
    topic shift: the first question of the same-numbered dialogue of the next article."""
    if turns < 2:
        raise ValueError("a dialogue needs at least 2 turns")
    by_article: dict[int, list[QAExample]] = {}
    for e in examples:
        if not e.is_impossible:
            by_article.setdefault(e.article_index, []).append(e)
    articles = sorted(by_article)
    runs = {a: [by_article[a][i:i + turns] for i in range(0, len(by_article[a]) - turns + 1, turns)] for a in articles}
    dialogues: list[Dialogue] = []
    for position, article in enumerate(articles):
        others = [a for a in articles[position + 1:] + articles[:position] if runs[a]]
        for j, run in enumerate(runs[article]):
            built = [DialogueTurn(example=run[0], asked=run[0].question.strip(), kind="first")]
            for i, example in enumerate(run[1:], start=1):
                built.append(make_dependent(example, run[:i], built[-1].asked))
            if others:  # the j-th dialogue of the next article opens the new topic
                shift = runs[others[0]][j % len(runs[others[0]])][0]
                built.append(DialogueTurn(example=shift, asked=shift.question.strip(), kind="topic-shift"))
            dialogues.append(Dialogue(id=f"{run[0].id}+{len(run)}", turns=tuple(built)))
    return dialogues
